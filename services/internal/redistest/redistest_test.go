package redistest_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"pictor/services/internal/redistest"
)

func TestStartServesAndStops(t *testing.T) {
	var addr string
	t.Run("inner", func(t *testing.T) {
		addr = redistest.Start(t)
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		// Nothing is persisted: CONFIG GET save answers an empty value.
		if _, err := conn.Write([]byte("SET k v\r\nGET k\r\nCONFIG GET save\r\n")); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		want := []string{"+OK\r\n", "$1\r\n", "v\r\n", "*2\r\n", "$4\r\n", "save\r\n", "$0\r\n"}
		for _, w := range want {
			line, err := r.ReadString('\n')
			if err != nil || line != w {
				t.Fatalf("got %q, %v; want %q", line, err, w)
			}
		}
	})
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("redis-server still listening after its test ended")
	}
}
