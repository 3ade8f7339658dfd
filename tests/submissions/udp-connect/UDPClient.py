# Connects its UDP socket first (allowed: it then only hears that one server), then send()/recv().
import socket
client_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client_socket.settimeout(1.0)
client_socket.connect(('hostname', 12000))
message = input('Input lowercase sentence:')
client_socket.send(message.encode())
print(client_socket.recv(2048).decode())
client_socket.close()
