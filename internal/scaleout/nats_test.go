package scaleout_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store/storetest"
)

// natsServerBinary is Debian's nats-server package's binary.
const natsServerBinary = "/usr/sbin/nats-server"

// natsServer is a private NATS server on a port of its own, so that fault
// tests can stop it without disturbing the shared one.
type natsServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	if _, err := os.Stat(natsServerBinary); err != nil {
		storetest.Skip(t, "NATS fault tests skipped: "+natsServerBinary+" is missing (apt-get install nats-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &natsServer{t: t, port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	n.start()
	t.Cleanup(n.kill)
	return n
}

func (n *natsServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// start runs the server and waits until it accepts connections.
func (n *natsServer) start() {
	n.t.Helper()
	n.cmd = exec.Command(natsServerBinary, "-a", "127.0.0.1", "-p", fmt.Sprint(n.port))
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("nats-server on port %d did not come up: %v", n.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server at once (what a crash or a restart looks like to clients).
func (n *natsServer) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
	n.cmd = nil
}

// freeze stops the process without closing its sockets: the server is
// unreachable but nothing tells the clients so; thaw resumes it.
func (n *natsServer) freeze() { _ = n.cmd.Process.Signal(syscall.SIGSTOP) }
func (n *natsServer) thaw()   { _ = n.cmd.Process.Signal(syscall.SIGCONT) }
