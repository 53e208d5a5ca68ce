package runbook

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/sqldr/sqldr/pkg/config"
)

// Pools are the runbook's connection pools, one per configured instance,
// each connected to master with the instance's DSN (which must name a login
// with sysadmin rights: RESTORE, ALTER DATABASE and the msdb job procedures
// need it, SQLSERVER.md §8 Q14). Pools.Conn is a Deps.Conn.
type Pools struct {
	dbs map[string]*sql.DB
}

// OpenPools reads each instance's DSN (dsn_env or dsn_file; never logged)
// and opens a small pool per instance; no connection is made until first use.
// A configured source_address is bound by the dialer.
func OpenPools(c *config.Config) (*Pools, error) {
	return openPools(c, os.LookupEnv, os.ReadFile)
}

func openPools(c *config.Config, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (*Pools, error) {
	p := &Pools{dbs: map[string]*sql.DB{}}
	for _, in := range c.Instances {
		dsn, err := readDSN(in, lookupEnv, readFile)
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		cfg, err := msdsn.Parse(dsn)
		if err != nil {
			_ = p.Close()
			// The parse error may quote the DSN, which can hold a password: do not wrap it.
			return nil, fmt.Errorf("instance %s: the DSN cannot be parsed (check its syntax)", in.Name)
		}
		if cfg.Database != "" && !strings.EqualFold(cfg.Database, "master") {
			_ = p.Close()
			return nil, fmt.Errorf("instance %s: the DSN names database %q; the runbook connects to master", in.Name, cfg.Database)
		}
		cfg.Database = "master"
		cfg.DialTimeout = in.ConnectTimeout
		conn := mssql.NewConnectorConfig(cfg)
		if in.SourceAddress.IsValid() {
			conn.Dialer = &net.Dialer{Timeout: in.ConnectTimeout, KeepAlive: 30 * time.Second,
				LocalAddr: &net.TCPAddr{IP: in.SourceAddress.AsSlice()}}
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(2)
		db.SetMaxIdleConns(1)
		p.dbs[in.Name] = db
	}
	return p, nil
}

func readDSN(in config.Instance, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (string, error) {
	if in.DSNEnv != "" {
		v, ok := lookupEnv(in.DSNEnv)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("instance %s: environment variable %s (dsn_env) is not set", in.Name, in.DSNEnv)
		}
		return strings.TrimSpace(v), nil
	}
	b, err := readFile(in.DSNFile)
	if err != nil {
		return "", fmt.Errorf("instance %s: read dsn_file: %w", in.Name, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("instance %s: dsn_file %s is empty", in.Name, in.DSNFile)
	}
	return v, nil
}

// Conn returns the pool of a configured instance.
func (p *Pools) Conn(instance string) (DB, error) {
	db, ok := p.dbs[instance]
	if !ok {
		return nil, fmt.Errorf("instance %q is not configured", instance)
	}
	return db, nil
}

// Close closes every pool.
func (p *Pools) Close() error {
	var errs []error
	for name, db := range p.dbs {
		if err := db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close pool of %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
