/* The textbook's TCPServer in C: socket(), bind(('', 12000)), listen(), then per client
   accept() -> recv() -> send(upper case) -> close(). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int server_socket = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(server_socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(12000);
    if (bind(server_socket, (struct sockaddr *)&address, sizeof address) < 0) { perror("bind"); return 1; }
    listen(server_socket, 1);
    printf("The server is ready to receive\n");
    for (;;) {
        int connection_socket = accept(server_socket, NULL, NULL);  /* a new socket per client */
        if (connection_socket < 0) { perror("accept"); return 1; }
        char sentence[1024];
        ssize_t n = recv(connection_socket, sentence, sizeof sentence, 0);
        for (ssize_t i = 0; i < n; i++) sentence[i] = toupper((unsigned char)sentence[i]);
        if (n > 0) send(connection_socket, sentence, (size_t)n, 0);
        close(connection_socket);
    }
}
