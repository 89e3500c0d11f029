package redistest

import "testing"

func TestServerStopStart(t *testing.T) {
	s := StartServer(t, "--maxmemory", "2mb")
	if err := ping(s.Addr); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := ping(s.Addr); err == nil {
		t.Fatal("stopped server still answers")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ping(s.Addr); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}

func TestStartCluster(t *testing.T) {
	addrs := StartCluster(t, 3)
	if len(addrs) != 3 {
		t.Fatalf("got %d nodes", len(addrs))
	}
	for _, a := range addrs {
		if st, err := clusterState(a); err != nil || st != "ok" {
			t.Fatalf("%s: state %q, %v", a, st, err)
		}
	}
}
