package natsserver_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/reboundhq/rebound/events/natsserver"
)

func TestStart_takenPortNamesTheVariable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = natsserver.Start(natsserver.Config{DataDir: t.TempDir(), Port: port, PortVariable: "REBOUND_NATS_PORT"})
	if !errors.Is(err, natsserver.ErrPortInUse) || !strings.Contains(err.Error(), "REBOUND_NATS_PORT") {
		t.Fatalf("err = %v; want ErrPortInUse naming REBOUND_NATS_PORT", err)
	}
}

func TestStart_servesJetStreamAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := natsserver.Start(natsserver.Config{DataDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: nats.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("t.1", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown()

	s, err = natsserver.Start(natsserver.Config{DataDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	nc, err = nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = nc.JetStream()
	m, err := js.GetLastMsg("T", "t.1")
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("after restart: %v, %v", m, err)
	}
}

func TestConfig_Validate(t *testing.T) {
	err := natsserver.Config{Port: 70000}.Validate()
	if err == nil || !strings.Contains(err.Error(), "DataDir") || !strings.Contains(err.Error(), "70000") {
		t.Fatalf("Validate = %v; want both problems", err)
	}
}
