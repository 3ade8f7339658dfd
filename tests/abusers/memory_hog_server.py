# Binds, then eats memory until the container's limit stops it.
import socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('', 12000))
hog = []
while True:
    hog.append(bytearray(16 * 1024 * 1024))
