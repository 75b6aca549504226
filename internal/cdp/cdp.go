package cdp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Browser is a headless Chromium process with a DevTools port.
type Browser struct {
	cmd     *exec.Cmd
	dir     string // profile directory, removed by Close
	host    string // 127.0.0.1:PORT of the DevTools HTTP and WebSocket endpoints
	logFile string
	exited  chan struct{}
}

// Binary finds Chromium: $CHROMIUM, else chromium, chromium-browser or google-chrome on PATH.
func Binary() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found: install Debian's chromium package (scripts/test.sh does), or set $CHROMIUM")
}

// Start launches headless Chromium on about:blank and waits for its DevTools port.
func Start(ctx context.Context) (*Browser, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gregor-chromium-")
	if err != nil {
		return nil, err
	}
	b := &Browser{dir: dir, logFile: filepath.Join(dir, "chromium.log"), exited: make(chan struct{})}
	logf, err := os.Create(b.logFile)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	b.cmd = exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--hide-scrollbars", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,1000", "about:blank")
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = b.cmd.Wait(); close(b.exited) }() // ends when the process does (Close kills it)
	// Chromium writes the port it bound to DevToolsActivePort in the profile: "PORT\n/path".
	portFile := filepath.Join(dir, "profile", "DevToolsActivePort")
	for {
		if data, err := os.ReadFile(portFile); err == nil {
			if port, _, ok := strings.Cut(string(data), "\n"); ok && port != "" {
				b.host = "127.0.0.1:" + strings.TrimSpace(port)
				return b, nil
			}
		}
		select {
		case <-ctx.Done():
			b.Close()
			return nil, fmt.Errorf("chromium did not open its DevTools port: %w", ctx.Err())
		case <-b.exited:
			log, _ := os.ReadFile(b.logFile)
			b.Close()
			return nil, fmt.Errorf("chromium exited at start: %s", log)
		case <-time.After(50 * time.Millisecond): // polling a file another process writes
		}
	}
}

// Log is what Chromium printed so far.
func (b *Browser) Log() string {
	data, _ := os.ReadFile(b.logFile)
	return string(data)
}

// Close kills the browser and removes its profile.
func (b *Browser) Close() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	os.RemoveAll(b.dir)
}

// Page connects to the browser's first page target.
func (b *Browser) Page(ctx context.Context) (*Conn, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.host+"/json/list", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var targets []struct {
		Type, URL            string
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&targets); err != nil {
		return nil, fmt.Errorf("DevTools target list: %w", err)
	}
	for _, t := range targets {
		if t.Type == "page" && t.WebSocketDebuggerURL != "" {
			ws, err := dialWebSocket(t.WebSocketDebuggerURL)
			if err != nil {
				return nil, err
			}
			c := &Conn{ws: ws, pending: map[int64]chan reply{}, done: make(chan struct{})}
			go c.readLoop()
			return c, nil
		}
	}
	return nil, errors.New("no page target")
}

// Conn is a DevTools session with one page.
type Conn struct {
	ws      *wsConn
	wmu     sync.Mutex // serializes frame writes
	mu      sync.Mutex // guards pending, nextID, err
	pending map[int64]chan reply
	nextID  int64
	err     error
	done    chan struct{} // closed when readLoop ends
}

type reply struct {
	Result json.RawMessage
	Err    error
}

type message struct {
	ID     int64           `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// readLoop routes replies to their callers; events are dropped. It ends when the connection
// does and fails every pending call.
func (c *Conn) readLoop() {
	defer close(c.done)
	for {
		data, err := c.ws.readMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			for id, ch := range c.pending {
				ch <- reply{Err: err}
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		var m message
		if json.Unmarshal(data, &m) != nil || m.ID == 0 {
			continue
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch == nil {
			continue
		}
		r := reply{Result: m.Result}
		if m.Error != nil {
			r.Err = fmt.Errorf("DevTools error %d: %s", m.Error.Code, m.Error.Message)
		}
		ch <- r // buffered
	}
}

// Call sends method with params and waits for its result.
func (c *Conn) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	id := c.nextID
	ch := make(chan reply, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	c.wmu.Lock()
	err = c.ws.writeText(msg)
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.Result, r.Err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Navigate loads url and waits until the document has loaded.
func (c *Conn) Navigate(ctx context.Context, url string) error {
	res, err := c.Call(ctx, "Page.navigate", map[string]any{"url": url})
	if err != nil {
		return err
	}
	var nav struct{ ErrorText string }
	if json.Unmarshal(res, &nav) == nil && nav.ErrorText != "" {
		return fmt.Errorf("navigate %s: %s", url, nav.ErrorText)
	}
	for {
		var state string
		if err := c.Evaluate(ctx, "document.readyState", &state); err == nil && state == "complete" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("navigate %s: page did not load: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond): // polling the page's state
		}
	}
}

// Evaluate runs a JavaScript expression in the page (awaiting a promise) and decodes its value
// into out.
func (c *Conn) Evaluate(ctx context.Context, expr string, out any) error {
	res, err := c.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil {
			msg += " " + e.Exception.Description
		}
		return fmt.Errorf("evaluate %q: %s", expr, msg)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// Screenshot captures the whole page, width × its full height, as PNG.
func (c *Conn) Screenshot(ctx context.Context, width int) ([]byte, error) {
	var height int
	if err := c.Evaluate(ctx, "Math.ceil(document.documentElement.scrollHeight)", &height); err != nil {
		return nil, err
	}
	if _, err := c.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}); err != nil {
		return nil, err
	}
	res, err := c.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"})
	if err != nil {
		return nil, err
	}
	var shot struct{ Data string }
	if err := json.Unmarshal(res, &shot); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(shot.Data)
}

// Close ends the session.
func (c *Conn) Close() {
	_ = c.ws.close()
	<-c.done
}
