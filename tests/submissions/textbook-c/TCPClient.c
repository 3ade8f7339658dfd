/* The textbook's TCPClient in C: socket() -> connect(('hostname', 12000)) -> send() -> recv() -> close(). */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    struct addrinfo hints = {0}, *server;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo("hostname", "12000", &hints, &server) != 0) { fprintf(stderr, "cannot resolve hostname\n"); return 1; }
    int client_socket = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client_socket, server->ai_addr, server->ai_addrlen) < 0) { perror("connect"); return 1; }
    char sentence[1024];
    printf("Input lowercase sentence: ");
    if (!fgets(sentence, sizeof sentence, stdin)) return 1;
    send(client_socket, sentence, strlen(sentence), 0);
    char modified[1024];
    ssize_t n = recv(client_socket, modified, sizeof modified - 1, 0);
    if (n < 0) { perror("recv"); return 1; }
    modified[n] = '\0';
    printf("From Server: %s", modified);
    close(client_socket);
    return 0;
}
