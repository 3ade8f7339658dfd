// The textbook's UDPServer in Java: receive() a datagram, send() it back upper-cased to its sender.
// A classic mistake (the textbook's own): new String(getData()) is the whole buffer, NUL padding included.
import java.net.*;

class UDPServer {
    public static void main(String args[]) throws Exception {
        DatagramSocket serverSocket = new DatagramSocket(12000);
        byte[] receiveData = new byte[2048];
        System.out.println("The server is ready to receive");
        while (true) {
            DatagramPacket receivePacket = new DatagramPacket(receiveData, receiveData.length);
            serverSocket.receive(receivePacket);
            String sentence = new String(receivePacket.getData());   // the whole 2048-byte buffer
            byte[] sendData = sentence.toUpperCase().getBytes("UTF-8");
            InetAddress IPAddress = receivePacket.getAddress();
            int port = receivePacket.getPort();
            serverSocket.send(new DatagramPacket(sendData, sendData.length, IPAddress, port));
        }
    }
}
