package metrics

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// enum is a collector for enumeration gauges. For every key (the values of all labels but the last)
// it exports one series per possible value (the last label): 1 for the active values, 0 for the
// others. A one-hot enum has exactly one active value per key. Updates and Collect take the same lock,
// so a scrape never sees a half-applied change.
type enum struct {
	desc   *prometheus.Desc
	values []string
	oneHot bool

	mu     sync.Mutex
	keys   [][]string        // in creation order, for a stable exposition
	active map[string][]bool // joined key -> active flag per value
}

func newEnum(d Definition, values []string, oneHot bool) *enum {
	return &enum{
		desc:   prometheus.NewDesc(d.Name, d.Help, d.Labels, nil),
		values: slices.Clone(values),
		oneHot: oneHot,
		active: map[string][]bool{},
	}
}

func joinKey(key []string) string { return strings.Join(key, "\xff") }

// add pre-creates a key with the given values active.
func (e *enum) add(key []string, active ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := joinKey(key)
	if _, ok := e.active[k]; !ok {
		e.keys = append(e.keys, slices.Clone(key))
	}
	flags := make([]bool, len(e.values))
	for _, a := range active {
		if i := slices.Index(e.values, a); i >= 0 {
			flags[i] = true
		}
	}
	e.active[k] = flags
}

// set makes exactly the given values active for a pre-created key.
func (e *enum) set(key []string, active ...string) error {
	if e.oneHot && len(active) != 1 {
		return fmt.Errorf("one-hot enumeration needs exactly one value, got %d", len(active))
	}
	flags := make([]bool, len(e.values))
	for _, a := range active {
		i := slices.Index(e.values, a)
		if i < 0 {
			return fmt.Errorf("value %q (want one of %s): %w", a, strings.Join(e.values, ", "), ErrUnknownLabel)
		}
		flags[i] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := joinKey(key)
	if _, ok := e.active[k]; !ok {
		return fmt.Errorf("key %q: %w", strings.Join(key, ","), ErrUnknownLabel)
	}
	e.active[k] = flags
	return nil
}

// Describe implements prometheus.Collector.
func (e *enum) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

// Collect implements prometheus.Collector.
func (e *enum) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, key := range e.keys {
		flags := e.active[joinKey(key)]
		for i, v := range e.values {
			val := 0.0
			if flags[i] {
				val = 1
			}
			ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, val, append(slices.Clone(key), v)...)
		}
	}
}
