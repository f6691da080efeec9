package batch

// Queue is a double-ended FIFO queue on a ring buffer. It grows as needed
// and never shrinks, so a queue that reached its working size stops
// allocating. The zero Queue is empty and ready to use. It is not safe for
// concurrent use.
type Queue[E any] struct {
	buf  []E // len(buf) is zero or a power of two
	head int // index of the first entry
	n    int
}

// minQueueCap is the first buffer's size: a power of two.
const minQueueCap = 16

// Len is the number of entries in the queue.
func (q *Queue[E]) Len() int { return q.n }

// PushBack adds e at the end.
func (q *Queue[E]) PushBack(e E) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = e
	q.n++
}

// PushFront adds e at the start, ahead of every entry already queued.
func (q *Queue[E]) PushFront(e E) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1) & (len(q.buf) - 1)
	q.buf[q.head] = e
	q.n++
}

// Front returns the first entry. It panics on an empty queue, like an out
// of range index; check Len first.
func (q *Queue[E]) Front() E {
	if q.n == 0 {
		panic("batch: Front of empty Queue")
	}
	return q.buf[q.head]
}

// PopFront removes and returns the first entry. It panics on an empty queue;
// check Len first.
func (q *Queue[E]) PopFront() E {
	if q.n == 0 {
		panic("batch: PopFront of empty Queue")
	}
	var zero E
	e := q.buf[q.head]
	q.buf[q.head] = zero // let the entry be collected
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return e
}

// grow doubles the buffer, moving the entries to its start in order.
func (q *Queue[E]) grow() {
	size := max(2*len(q.buf), minQueueCap)
	buf := make([]E, size)
	k := copy(buf, q.buf[q.head:])
	copy(buf[k:], q.buf[:q.head])
	q.buf, q.head = buf, 0
}
