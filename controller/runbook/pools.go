package runbook

import (
	"database/sql"
	"errors"
	"fmt"
	"os"

	"github.com/sqldr/sqldr/pkg/config"
	"github.com/sqldr/sqldr/pkg/dsn"
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
		raw, err := dsn.Read(dsn.Source{Env: in.DSNEnv, File: in.DSNFile}, lookupEnv, readFile)
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("instance %s: %w", in.Name, err)
		}
		cfg, err := dsn.ParseMaster(raw)
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("instance %s: %w", in.Name, err)
		}
		cfg.DialTimeout = in.ConnectTimeout
		conn := dsn.Connector(cfg, in.SourceAddress)
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(2)
		db.SetMaxIdleConns(1)
		p.dbs[in.Name] = db
	}
	return p, nil
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
