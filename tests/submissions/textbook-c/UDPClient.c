/* The textbook's UDPClient in C, with a timeout: a lost datagram is reported, not waited for forever. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(void) {
    struct addrinfo hints = {0}, *server;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo("hostname", "12000", &hints, &server) != 0) { fprintf(stderr, "cannot resolve hostname\n"); return 1; }
    int client_socket = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval timeout = {1, 0};
    setsockopt(client_socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char message[2048];
    printf("Input lowercase sentence: ");
    if (!fgets(message, sizeof message, stdin)) return 1;
    message[strcspn(message, "\n")] = '\0';
    sendto(client_socket, message, strlen(message), 0, server->ai_addr, server->ai_addrlen);
    char modified[2048];
    ssize_t n = recvfrom(client_socket, modified, sizeof modified - 1, 0, NULL, NULL);
    if (n < 0) { printf("Request timed out: the datagram or its reply was lost\n"); close(client_socket); return 0; }
    modified[n] = '\0';
    printf("%s\n", modified);
    close(client_socket);
    return 0;
}
