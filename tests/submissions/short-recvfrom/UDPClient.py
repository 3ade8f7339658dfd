# Reads the reply with a 4-byte buffer: the rest of the datagram is dropped by the kernel.
import socket
client_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client_socket.settimeout(1.0)
message = input('Input lowercase sentence:')
client_socket.sendto(message.encode(), ('hostname', 12000))
modified_message, server_address = client_socket.recvfrom(4)
print(modified_message.decode())
client_socket.close()
