# Binds the loopback name: only programs on the server's own host can connect.
import socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server_socket.bind(('localhost', 12000))
server_socket.listen(1)
print("The TCP server is ready to receive")
while True:
    connection_socket, addr = server_socket.accept()
    message = connection_socket.recv(1024).decode()
    connection_socket.send(message.upper().encode())
    connection_socket.close()
