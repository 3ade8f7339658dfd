// A classic mistake: no setSoTimeout(), so a lost datagram means waiting in receive() forever.
import java.io.*;
import java.net.*;

class UDPClient {
    public static void main(String args[]) throws Exception {
        BufferedReader inFromUser = new BufferedReader(new InputStreamReader(System.in));
        DatagramSocket clientSocket = new DatagramSocket();
        InetAddress IPAddress = InetAddress.getByName("hostname");
        String sentence = inFromUser.readLine();
        byte[] sendData = sentence.getBytes("UTF-8");
        clientSocket.send(new DatagramPacket(sendData, sendData.length, IPAddress, 12000));
        byte[] receiveData = new byte[2048];
        DatagramPacket receivePacket = new DatagramPacket(receiveData, receiveData.length);
        try {
            clientSocket.receive(receivePacket);
            System.out.println("FROM SERVER:" + new String(receivePacket.getData(), 0, receivePacket.getLength(), "UTF-8"));
        } catch (SocketTimeoutException e) {
            System.out.println("Request timed out: the datagram or its reply was lost");
        }
        clientSocket.close();
    }
}
