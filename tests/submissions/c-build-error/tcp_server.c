#include <arpa/inet.h>
#include <sys/socket.h>

int main(void) {
    int server_socket = socket(AF_INET, SOCK_STREAM, 0)
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons(12000);
    bind(server_socket, (struct sockaddr *)&address, sizeof address);
    listen(server_socket, 1);
    return 0;
}
