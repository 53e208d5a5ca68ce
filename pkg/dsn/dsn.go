// Package dsn reads SQL Server connection strings from where the configuration says they are (an
// environment variable or a file, never the YAML itself) and turns them into go-mssqldb connectors
// that connect to master, optionally from a chosen source address. Errors never quote a DSN: it can
// hold a password.
package dsn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"
)

// Source says where a DSN is kept: exactly one of Env (an environment variable's name, `dsn_env`)
// and File (a path, `dsn_file`).
type Source struct {
	Env  string
	File string
}

// Read returns the DSN of src, trimmed of surrounding white space. lookupEnv and readFile are
// os.LookupEnv and os.ReadFile outside tests.
func Read(src Source, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (string, error) {
	switch {
	case src.Env != "" && src.File != "":
		return "", errors.New("both dsn_env and dsn_file are set; use one")
	case src.Env != "":
		v, ok := lookupEnv(src.Env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("environment variable %s (dsn_env) is not set", src.Env)
		}
		return strings.TrimSpace(v), nil
	case src.File != "":
		b, err := readFile(src.File)
		if err != nil {
			return "", fmt.Errorf("read dsn_file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("dsn_file %s is empty", src.File)
		}
		return v, nil
	default:
		return "", errors.New("neither dsn_env nor dsn_file is set")
	}
}

// ParseMaster parses a go-mssqldb DSN and checks that it connects to master (no database means
// master): a RESTORING or mirror database refuses logins (4060, 927, 954), so sqldr never names the
// protected database in a DSN (DESIGN.md, "Probes").
func ParseMaster(s string) (msdsn.Config, error) {
	cfg, err := msdsn.Parse(s)
	if err != nil {
		// The parse error may quote the DSN, which can hold a password: do not wrap it.
		return msdsn.Config{}, errors.New("the DSN cannot be parsed (check its syntax)")
	}
	if cfg.Database != "" && !strings.EqualFold(cfg.Database, "master") {
		return msdsn.Config{}, fmt.Errorf("the DSN names database %q; sqldr connects to master", cfg.Database)
	}
	cfg.Database = "master"
	return cfg, nil
}

// Connector builds a connector for cfg. A valid source address binds the dialer's local address
// (a third-site observer and the controller dial from different addresses, so that a partition
// can cut one path and not the other); cfg.DialTimeout bounds the dial either way.
func Connector(cfg msdsn.Config, source netip.Addr) *mssql.Connector {
	c := mssql.NewConnectorConfig(cfg)
	if source.IsValid() {
		c.Dialer = &net.Dialer{
			Timeout:   cfg.DialTimeout,
			KeepAlive: 30 * time.Second,
			LocalAddr: &net.TCPAddr{IP: source.AsSlice()},
		}
	}
	return c
}
