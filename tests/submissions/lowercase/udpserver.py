import socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('', 12000))
print("The UDP server is ready to receive")
while True:
    message, client_address = server_socket.recvfrom(2048)
    server_socket.sendto(message, client_address)   # forgot .upper()
