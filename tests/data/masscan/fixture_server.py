"""Listeners for the masscan/zmap fixtures (see README.md): run inside a test
network namespace only.  Argument: seconds to stay up."""
import socket, threading, sys, time
def serve(port, banner, fam=socket.AF_INET, addr='0.0.0.0'):
    s = socket.socket(fam, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16)
    def loop():
        while True:
            c, _ = s.accept()
            try:
                if banner: c.sendall(banner)
                else:
                    c.settimeout(2); d = c.recv(4096)
                    c.sendall(b"HTTP/1.0 200 OK\r\nServer: scandb-test/1.0\r\nContent-Type: text/html\r\n\r\n<html><title>scandb fixture</title></html>")
            except Exception: pass
            c.close()
    threading.Thread(target=loop, daemon=True).start()
serve(22, b"SSH-2.0-OpenSSH_7.4 scandb-fixture\r\n")
serve(80, None)  # scan2.xml: made with this listener stopped
serve(8080, None, socket.AF_INET6, '::')
time.sleep(int(sys.argv[1]))
