package bot

import "sync"

// chatLocks serialises the updates of one chat without ever making another chat wait: one mutex
// per chat being handled (not stripes shared by unrelated chats), dropped when nobody holds or
// waits for it. A chat waiting for its 1-per-second send slot holds only its own lock.
type chatLocks struct {
	mu    sync.Mutex
	chats map[int64]*chatLock
}

type chatLock struct {
	sync.Mutex
	refs int
}

// lock takes chat's lock and returns the function that releases it.
func (l *chatLocks) lock(chat int64) func() {
	l.mu.Lock()
	if l.chats == nil {
		l.chats = map[int64]*chatLock{}
	}
	c := l.chats[chat]
	if c == nil {
		c = &chatLock{}
		l.chats[chat] = c
	}
	c.refs++
	l.mu.Unlock()
	c.Lock()
	return func() {
		c.Unlock()
		l.mu.Lock()
		c.refs--
		if c.refs == 0 {
			delete(l.chats, chat)
		}
		l.mu.Unlock()
	}
}

// held is the number of chats with a lock held or awaited (tests).
func (l *chatLocks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.chats)
}
