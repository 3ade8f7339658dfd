# The textbook client with a timeout: a lost datagram is reported, never waited for forever.
import socket
server_name = 'hostname'
server_port = 12000
client_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client_socket.settimeout(1.0)
message = input('Input lowercase sentence:')
client_socket.sendto(message.encode(), (server_name, server_port))
try:
    modified_message, server_address = client_socket.recvfrom(2048)
    print(modified_message.decode())
except socket.timeout:
    print("Request timed out: the datagram or its reply was lost")
client_socket.close()
