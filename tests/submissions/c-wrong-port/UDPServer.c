/* The textbook's UDPServer in C: socket(), bind(('', 12000)), then recvfrom() -> sendto() the sender. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <sys/socket.h>

int main(void) {
    int server_socket = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(12001)   /* the mistake: not the port the clients use */;
    if (bind(server_socket, (struct sockaddr *)&address, sizeof address) < 0) { perror("bind"); return 1; }
    printf("The server is ready to receive\n");
    for (;;) {
        char message[2048];
        struct sockaddr_in client_address;
        socklen_t length = sizeof client_address;
        ssize_t n = recvfrom(server_socket, message, sizeof message, 0, (struct sockaddr *)&client_address, &length);
        if (n < 0) continue;
        for (ssize_t i = 0; i < n; i++) message[i] = toupper((unsigned char)message[i]);
        sendto(server_socket, message, (size_t)n, 0, (struct sockaddr *)&client_address, length);
    }
}
