// Command labrelay carries the split lab (`sqldr lab --split`, pkg/lab) across containers.
//
// The split shape joins a world process and one process per instance over TCP, but the world
// binds its control API and its per-instance TDS servers to 127.0.0.1 (it was built for one
// host), and tells each instance process to dial "127.0.0.1:port". In the chaos suite each of
// those processes runs in its own container, so labrelay bridges the two loopbacks over the lab
// backplane network (a network the scenarios never cut; it stands for the storage and the engine,
// not for any SQL Server network path):
//
//   - world mode (`labrelay -mode world -control 127.0.0.1:14330 -- sqldr lab --split ...`) starts
//     the world, reads its status, and exposes its control port and every instance's internal
//     TDS port on each non-loopback address of the container, forwarding to loopback;
//   - instance mode (`labrelay -mode instance -control world:14330 -- sqldr lab instance ...`)
//     reads the world's status through the backplane, listens on 127.0.0.1 on the same ports,
//     forwarding to the world container, then starts the instance process.
//
// It is test tooling, built only into the integration suite's image layer, never into the
// product image. When the lab can bind and advertise non-loopback addresses itself, it goes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// status is the part of the lab's GET /v1/status that labrelay reads.
type status struct {
	Instances []struct {
		Name string `json:"name"`
		Addr string `json:"addr"`
	} `json:"instances"`
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("labrelay", flag.ContinueOnError)
	mode := fs.String("mode", "", "world or instance")
	control := fs.String("control", "", "world mode: the world's loopback control address; instance mode: the world container's control address (host:port)")
	wait := fs.Duration("wait", time.Minute, "how long to wait for the world's status")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	child := fs.Args()
	if (*mode != "world" && *mode != "instance") || *control == "" || len(child) == 0 {
		fmt.Fprintln(os.Stderr, "labrelay: usage: labrelay -mode world|instance -control HOST:PORT -- COMMAND ARGS...")
		return 2
	}
	_, controlPort, err := net.SplitHostPort(*control)
	if err != nil {
		fmt.Fprintf(os.Stderr, "labrelay: -control %q: %v\n", *control, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cmd *exec.Cmd
	start := func() error {
		cmd = exec.Command(child[0], child[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", child[0], err)
		}
		return nil
	}
	var relays []net.Listener
	defer func() {
		for _, l := range relays {
			_ = l.Close()
		}
	}()
	switch *mode {
	case "world":
		if err := start(); err != nil {
			fmt.Fprintf(os.Stderr, "labrelay: %v\n", err)
			return 1
		}
		ports, err := worldPorts(ctx, *control, controlPort, *wait)
		if err != nil {
			fmt.Fprintf(os.Stderr, "labrelay: %v\n", err)
			_ = cmd.Process.Kill()
			return 1
		}
		ips, err := localAddrs()
		if err == nil {
			relays, err = relayAll(ips, ports, func(port string) string { return net.JoinHostPort("127.0.0.1", port) })
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "labrelay: %v\n", err)
			_ = cmd.Process.Kill()
			return 1
		}
		fmt.Printf("labrelay ready: world ports %v exposed on %v\n", ports, ips)
	case "instance":
		host, _, _ := net.SplitHostPort(*control)
		ports, err := worldPorts(ctx, *control, controlPort, *wait)
		if err == nil {
			relays, err = relayAll([]string{"127.0.0.1"}, ports, func(port string) string { return net.JoinHostPort(host, port) })
		}
		if err == nil {
			err = start()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "labrelay: %v\n", err)
			return 1
		}
		fmt.Printf("labrelay ready: world %s ports %v on loopback\n", host, ports)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(err)
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return exitCode(err)
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			return exitCode(<-done)
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		return 1
	}
}

// worldPorts polls the world's status until it answers and returns the control port and every
// instance's internal TDS port.
func worldPorts(ctx context.Context, control, controlPort string, wait time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		st, err := fetchStatus(ctx, hc, "http://"+control+"/v1/status")
		if err == nil {
			ports := []string{controlPort}
			for _, i := range st.Instances {
				_, p, err := net.SplitHostPort(i.Addr)
				if err != nil {
					return nil, fmt.Errorf("world status: instance %s address %q: %w", i.Name, i.Addr, err)
				}
				ports = append(ports, p)
			}
			return ports, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("world status at %s did not answer within %s: %w", control, wait, last)
		case <-tick.C:
		}
	}
}

func fetchStatus(ctx context.Context, hc *http.Client, url string) (status, error) {
	var st status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, fmt.Errorf("status request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return st, fmt.Errorf("get %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("get %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("decode %s: %w", url, err)
	}
	return st, nil
}

// localAddrs lists the container's non-loopback IPv4 addresses.
func localAddrs() ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("interface addresses: %w", err)
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			out = append(out, n.IP.String())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no non-loopback IPv4 address to expose the world on")
	}
	return out, nil
}

// relayAll listens on every ip:port and forwards each connection to target(port).
func relayAll(ips, ports []string, target func(port string) string) ([]net.Listener, error) {
	var ls []net.Listener
	for _, ip := range ips {
		for _, p := range ports {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, p))
			if err != nil {
				for _, o := range ls {
					_ = o.Close()
				}
				return nil, fmt.Errorf("listen %s:%s: %w", ip, p, err)
			}
			ls = append(ls, l)
			go serve(l, target(p))
		}
	}
	return ls, nil
}

func serve(l net.Listener, target string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go forward(c, target)
	}
}

func forward(c net.Conn, target string) {
	defer func() { _ = c.Close() }()
	up, err := net.DialTimeout("tcp", target, 3*time.Second)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
}
