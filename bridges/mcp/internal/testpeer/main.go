// Command testpeer is a real MCP server (mark3labs/mcp-go) that the MCP
// bridge's tests run over stdio or streamable HTTP. Its tools cover every
// result content kind, progress, cancellation, failures, a crash and a tool
// list that changes while it runs; -desc changes one tool's description, to
// test pinned definitions.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func main() {
	transport := flag.String("transport", "stdio", "stdio or http")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (http)")
	desc := flag.String("desc", "Echoes the message back.", "the echo tool's description")
	events := flag.String("events", "", "file to append events to (cancelled calls)")
	token := flag.String("token", "", "bearer token every HTTP request must carry")
	chatty := flag.Bool("chatty", false, "echo logs a message to the client first (over HTTP its answer becomes an event stream)")
	flag.Parse()

	s := server.NewMCPServer("altar-testpeer", "1.0.0", server.WithToolCapabilities(true))
	record := func(line string) {
		if *events == "" {
			return
		}
		f, err := os.OpenFile(*events, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		fmt.Fprintln(f, line)
		f.Close()
	}

	s.AddTool(mcp.NewTool("echo", mcp.WithDescription(*desc),
		mcp.WithString("message", mcp.Required(), mcp.Description("what to echo")),
		mcp.WithReadOnlyHintAnnotation(true), mcp.WithIdempotentHintAnnotation(true), mcp.WithOpenWorldHintAnnotation(false)),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if *chatty {
				_ = s.SendNotificationToClient(ctx, "notifications/message", map[string]any{"level": "info", "data": "echoing"})
			}
			return mcp.NewToolResultText(req.GetString("message", "")), nil
		})

	s.AddTool(mcp.NewTool("slow", mcp.WithDescription("Takes steps with progress; records a cancellation."),
		mcp.WithNumber("steps", mcp.Description("how many steps")),
		mcp.WithNumber("step_ms", mcp.Description("milliseconds per step"))),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			steps := int(req.GetFloat("steps", 3))
			step := time.Duration(req.GetFloat("step_ms", 50)) * time.Millisecond
			var token mcp.ProgressToken
			if req.Params.Meta != nil {
				token = req.Params.Meta.ProgressToken
			}
			for i := 1; i <= steps; i++ {
				select {
				case <-ctx.Done():
					record("cancelled slow")
					return nil, ctx.Err()
				case <-time.After(step):
				}
				if token != nil {
					_ = server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress",
						map[string]any{"progressToken": token, "progress": i, "total": steps, "message": fmt.Sprintf("step %d", i)})
				}
			}
			return mcp.NewToolResultText(fmt.Sprintf("done after %d steps", steps)), nil
		})

	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG fake"))
	wav := base64.StdEncoding.EncodeToString([]byte("RIFF fake"))
	s.AddTool(mcp.NewTool("kinds", mcp.WithDescription("Returns one content block of every kind.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{
				mcp.NewTextContent("hello"),
				mcp.NewImageContent(png, "image/png"),
				mcp.NewAudioContent(wav, "audio/wav"),
				mcp.NewResourceLink("file:///a.txt", "a.txt", "a file", "text/plain"),
				mcp.NewEmbeddedResource(mcp.TextResourceContents{URI: "mem://t", MIMEType: "text/plain", Text: "inline"}),
				mcp.NewEmbeddedResource(mcp.BlobResourceContents{URI: "mem://b", MIMEType: "application/octet-stream", Blob: base64.StdEncoding.EncodeToString([]byte{0, 1, 2})}),
			}}, nil
		})

	s.AddTool(mcp.NewTool("weather", mcp.WithDescription("Structured weather."),
		mcp.WithString("city", mcp.Required()),
		mcp.WithRawOutputSchema([]byte(`{"type":"object","properties":{"city":{"type":"string"},"temperature":{"type":"integer"}},"required":["city","temperature"]}`))),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			w := map[string]any{"city": req.GetString("city", ""), "temperature": 21}
			return mcp.NewToolResultStructured(w, `{"city":"?","temperature":21}`), nil
		})

	s.AddTool(mcp.NewTool("fail", mcp.WithDescription("Always fails with isError.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError("the disk is on fire"), nil
		})

	s.AddTool(mcp.NewTool("crash", mcp.WithDescription("Exits the server process.")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			record("crash")
			os.Exit(3)
			return nil, nil
		})

	s.AddTool(mcp.NewTool("grow", mcp.WithDescription("Adds the tool \"extra\" (tools/list_changed).")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			s.AddTool(mcp.NewTool("extra", mcp.WithDescription("Added while running.")),
				func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return mcp.NewToolResultText("extra"), nil
				})
			return mcp.NewToolResultText("grown"), nil
		})

	switch *transport {
	case "stdio":
		// Messages are read through a tap that records notifications/cancelled.
		in := io.TeeReader(os.Stdin, &cancelTap{record: record})
		if err := server.NewStdioServer(s).Listen(context.Background(), in, os.Stdout); err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "http":
		lis, err := net.Listen("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		mcpHandler := server.NewStreamableHTTPServer(s)
		tapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if *token != "" && r.Header.Get("Authorization") != "Bearer "+*token {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			if r.Method == http.MethodPost {
				body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
				_, _ = (&cancelTap{record: record}).Write(append(body, '\n'))
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			mcpHandler.ServeHTTP(w, r)
		})
		srv := &http.Server{Handler: tapped, ReadHeaderTimeout: 5 * time.Second}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		// The test reads this line for the address.
		fmt.Printf("listening on %s\n", lis.Addr())
		if err := srv.Serve(lis); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// cancelTap records each notifications/cancelled message that passes.
type cancelTap struct {
	record func(string)
	buf    []byte
}

func (c *cancelTap) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if bytes.Contains(c.buf[:i], []byte(`"notifications/cancelled"`)) {
			c.record("notified cancelled")
		}
		c.buf = c.buf[i+1:]
	}
}
