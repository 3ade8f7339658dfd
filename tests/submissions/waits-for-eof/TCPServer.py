# Reads until the client closes its side before answering; the client waits for the answer first.
import socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server_socket.bind(('', 12000))
server_socket.listen(1)
print("The TCP server is ready to receive")
while True:
    connection_socket, addr = server_socket.accept()
    data = b""
    while True:
        chunk = connection_socket.recv(1024)
        if not chunk:
            break
        data += chunk
    connection_socket.send(data.decode().upper().encode())
    connection_socket.close()
