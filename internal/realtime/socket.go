package realtime

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/rest"
)

// Routes mounts the WebSocket endpoint. It is public: the socket
// authenticates with its first frame, so the token never appears in a URL
// or an access log.
func (s *Service) Routes(rt *rest.Router) {
	rt.Public("GET /realtime/v1", s.serveSocket)
}

// serveSocket upgrades the request and runs the socket until it closes.
func (s *Service) serveSocket(w http.ResponseWriter, r *http.Request) error {
	// The origin is checked against the token's account once the auth
	// frame names it; the library's same-host check would refuse the
	// cross-origin pages the widget runs on.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true,
		Subprotocols: []string{Subprotocol}})
	if err != nil {
		return nil // Accept has answered the request
	}
	conn.SetReadLimit(s.opts.MaxFrameBytes)
	sock := &socket{conn: conn, out: newOutbox(s.opts.OutboxFrames, s.opts.OutboxBytes), svc: s}
	sess := s.newSession(sock, r.Header.Get("Origin"))
	sock.readLoop(sess)
	return nil
}

// socket adapts a WebSocket to a session's transport: one goroutine reads
// frames, a writer goroutine (started when frames are queued) writes them.
type socket struct {
	conn      *websocket.Conn
	out       *outbox
	svc       *Service
	closeOnce sync.Once
}

var _ transport = (*socket)(nil)

func (sk *socket) readLoop(sess *session) {
	ctx := context.Background()
	for {
		typ, data, err := sk.conn.Read(ctx)
		if err != nil {
			code := int(websocket.CloseStatus(err))
			if errors.Is(err, websocket.ErrMessageTooBig) || code == int(websocket.StatusMessageTooBig) {
				sess.close(int(websocket.StatusMessageTooBig), "frame larger than the limit")
			}
			sess.close(int(websocket.StatusNormalClosure), "")
			return
		}
		if typ != websocket.MessageText {
			sess.close(int(websocket.StatusUnsupportedData), "frames must be JSON text")
			return
		}
		sess.handle(data)
	}
}

func (sk *socket) send(frame []byte) error {
	start, err := sk.out.push(frame)
	if start {
		go sk.writeLoop()
	}
	return err
}

func (sk *socket) sendWait(ctx context.Context, frame []byte) error {
	start, err := sk.out.pushWait(ctx, frame)
	if start {
		go sk.writeLoop()
	}
	return err
}

// writeLoop writes queued frames until the queue is empty.
func (sk *socket) writeLoop() {
	for {
		frame, ok := sk.out.pop()
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), sk.svc.opts.WriteTimeout)
		err := sk.conn.Write(ctx, websocket.MessageText, frame)
		cancel()
		if err != nil {
			sk.out.close()
			sk.svc.log.Debug("write failed", slog.Any("error", err))
			return
		}
	}
}

// close drops what is queued, lets the frame being written finish, and
// sends the close frame (the library waits up to 5s for each step).
func (sk *socket) close(code int, reason string) {
	sk.closeOnce.Do(func() {
		sk.out.close()
		if len(reason) > 120 { // a close frame's reason is at most 123 bytes
			reason = reason[:120]
		}
		_ = sk.conn.Close(websocket.StatusCode(code), reason)
	})
}
