# A datagram socket in the TCP server: copied from the UDP server and then "fixed" by hand.
import socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('', 12000))
print("The TCP server is ready to receive")
while True:
    message, client_address = server_socket.recvfrom(1024)
    server_socket.sendto(message.decode().upper().encode(), client_address)
