# The textbook client with a 5-second timeout (correct and common): a lost datagram is reported
# after 5 s, never waited for forever. Issue 13: it failed whenever a datagram was lost, since the
# lab's wall clock for a client was also 5 s.
import socket
server_name = 'hostname'
server_port = 12000
client_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client_socket.settimeout(5)
message = input('Input lowercase sentence:')
client_socket.sendto(message.encode(), (server_name, server_port))
try:
    modified_message, server_address = client_socket.recvfrom(2048)
    print(modified_message.decode())
except socket.timeout:
    print("Request timed out")
client_socket.close()
