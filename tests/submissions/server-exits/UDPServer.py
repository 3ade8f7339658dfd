# No loop: answers one datagram, then the program (and its socket) ends.
import socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('', 12000))
print("The UDP server is ready to receive")
message, client_address = server_socket.recvfrom(2048)
modified_message = message.decode().upper()
server_socket.sendto(modified_message.encode(), client_address)
