# Remembers the first client's address and sends every reply there.
import socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('', 12000))
print("The UDP server is ready to receive")
reply_address = None
while True:
    message, client_address = server_socket.recvfrom(2048)
    if reply_address is None:
        reply_address = client_address
    modified_message = message.decode().upper()
    server_socket.sendto(modified_message.encode(), reply_address)
