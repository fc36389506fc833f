package sqlstore

import (
	"container/list"
	"time"

	"github.com/rsguard/rsguard/apikey"
)

// entry is what the cache knows of one hash: its record, or nil for a key
// the database does not have, read at fetched.
type entry struct {
	hash    apikey.Hash
	rec     *apikey.Record
	fetched time.Time
}

// lru is a bounded map of entries by hash that evicts the least recently
// used one. Not safe for concurrent use: the Store holds its lock.
type lru struct {
	max   int
	order list.List // of *entry, most recently used first
	index map[apikey.Hash]*list.Element
}

func newLRU(max int) *lru {
	return &lru{max: max, index: make(map[apikey.Hash]*list.Element)}
}

// get returns the entry of h, or nil, and marks it used.
func (c *lru) get(h apikey.Hash) *entry {
	el := c.index[h]
	if el == nil {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry)
}

// put adds or replaces the entry of e.hash, evicting the least recently
// used entry when the cache is full.
func (c *lru) put(e *entry) {
	if el := c.index[e.hash]; el != nil {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	if c.order.Len() >= c.max {
		if last := c.order.Back(); last != nil {
			delete(c.index, last.Value.(*entry).hash)
			c.order.Remove(last)
		}
	}
	c.index[e.hash] = c.order.PushFront(e)
}

// remove drops the entry of h, if any.
func (c *lru) remove(h apikey.Hash) {
	if el := c.index[h]; el != nil {
		delete(c.index, h)
		c.order.Remove(el)
	}
}

func (c *lru) len() int { return c.order.Len() }
