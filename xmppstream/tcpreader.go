package xmppstream

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
)

// Errors of the TCP stream reader. The TCPUpstream turns them into the
// binding condition the client sees (XEP-0124 §17.2): errStanzaLimit into
// policy-violation, everything else into remote-connection-failed.
var (
	// errStanzaLimit reports a server element (or stream header) over
	// TCPConfig.MaxStanzaSize, or nested deeper than the reader allows.
	errStanzaLimit = errors.New("xmppstream: server element over the size or depth limit")
	// errServerXML reports bytes from the server that are not an XMPP
	// stream: a DOCTYPE, a comment or processing instruction, text at the
	// stream level, a malformed element (RFC 6120 §11.1).
	errServerXML = errors.New("xmppstream: server sent malformed XML")
)

// readerMaxDepth bounds the nesting of a server element; it matches the
// depth stanzas are checked with (stanzaLimits).
const readerMaxDepth = 1024

// readChunk is how much the reader asks the connection for at a time.
const readChunk = 4096

// readBufs holds the readChunk buffers of streamReaders that are idle
// (release): a stream waiting for the server costs no buffer.
var readBufs = sync.Pool{New: func() any { return new([readChunk]byte) }}

// eventKind says what streamReader.next found.
type eventKind int

const (
	evHeader  eventKind = iota + 1 // a <stream:stream> start tag, with any XML declaration before it
	evElement                      // a complete top-level element (stanza, features, SASL, error)
	evEnd                          // the server's </stream:stream>
)

// event is one item of the server's stream. raw is freshly allocated (the
// reader keeps no reference to it). For an element, the reader has not
// checked it yet: streamReader.element does, with the header's
// declarations.
type event struct {
	kind eventKind
	raw  []byte
	// For evElement: where the root's name ends in raw, and whether some
	// unprefixed element in it gets its namespace from the stream header's
	// default namespace declaration.
	nameEnd     int
	usesDefault bool
}

// Scanner states: the reader is a byte-at-a-time state machine, so that it
// resumes where it stopped whenever more bytes arrive (a server writing
// one byte at a time costs linear time, not quadratic).
const (
	stTop      = iota // between top-level items, inside the stream
	stOpen            // after '<'
	stName            // in the name of a start tag
	stAttrs           // in a start tag, outside names and values
	stAttrName        // in an attribute name
	stValue           // in a quoted attribute value
	stSlash           // after '/' in a start tag: '>' must follow
	stEndTag          // in an end tag
	stText            // character data inside an element
	stBang            // after "<!" inside an element: "[CDATA[" must follow
	stCDATA           // inside a CDATA section
	stDecl            // inside "<?…?>" before a stream header
)

// streamReader splits the byte stream an XMPP server sends into its stream
// header and top-level elements (RFC 6120 §4.2, §4.3). It only finds
// boundaries; xmlscan checks each element it returns (element). It holds
// at most the current item plus one read, so its memory is bounded by
// max + readChunk whatever the server sends; white space keep-alives
// between elements are dropped as they come.
//
// A streamReader is used by one goroutine at a time: Open, then the
// stream's reader goroutine.
type streamReader struct {
	r   io.Reader
	max int // most bytes of one item

	// restarts counts stream headers the client side has sent and whose
	// answer has not been read: a new header from the server is accepted
	// only then (RFC 6120 §4.3.3, XEP-0206 §5). Shared with Send.
	restarts *atomic.Int32

	buf   []byte // buf[start:] is the current item, buf[pos:] is not scanned yet
	start int
	pos   int

	state       int
	depth       []bool // per open element: a default namespace is declared on it or above it (within the item)
	quote       byte   // the quote of stValue
	count       int    // progress through "[CDATA[" or "]]>" or "?>"
	nameStart   int    // of the tag or attribute name being read
	nameEnd     int    // of the item's root name
	hasDefault  bool   // the tag being read declares xmlns
	prefixed    bool   // the tag being read has a prefixed name
	rootTag     bool   // the tag being read is the item's root
	header      bool   // the item is a stream header
	afterDecl   bool   // an XML declaration began the item
	usesDefault bool
	qname       string // the stream header's qualified name, once seen
	started     bool   // the first header was read
	err         error  // sticky
}

// newStreamReader returns a streamReader of r; its buffer comes with the
// first read.
func newStreamReader(r io.Reader, max int, restarts *atomic.Int32) *streamReader {
	return &streamReader{r: r, max: max, restarts: restarts}
}

// buffered reports whether bytes were read past the last item returned;
// after a TLS <proceed/> there must be none (RFC 6120 §5.4.3.3).
func (sr *streamReader) buffered() bool { return len(sr.buf) > sr.start }

// idle reports whether every byte read so far belongs to an item already
// returned (or a keep-alive dropped): the reader is between top-level
// items and waits for nothing but new bytes.
func (sr *streamReader) idle() bool { return sr.err == nil && sr.start == len(sr.buf) }

// release gives the buffer of an idle reader back; the next read takes
// one again.
func (sr *streamReader) release() {
	if sr.buf == nil || !sr.idle() {
		return
	}
	putReadBuf(sr.buf)
	sr.shift(sr.start)
	sr.buf = nil
}

// putReadBuf gives b back to readBufs when it came from there.
func putReadBuf(b []byte) {
	if cap(b) == readChunk {
		readBufs.Put((*[readChunk]byte)(b[:readChunk]))
	}
}

// next returns the next item of the stream. Once it has returned an error
// it returns it again.
func (sr *streamReader) next() (event, error) {
	for sr.err == nil {
		for sr.pos < len(sr.buf) {
			ev, ok, err := sr.step(sr.buf[sr.pos])
			sr.pos++
			if err != nil {
				sr.err = err
				break
			}
			if ok {
				return ev, nil
			}
		}
		if sr.err == nil {
			sr.err = sr.fill()
		}
	}
	return event{}, sr.err
}

// nextBuffered returns the next item when the bytes already read complete
// it, without reading more: ok is false when they do not (what was
// scanned is kept for next). The raw bytes of the items it returns stay
// valid until next reads again.
func (sr *streamReader) nextBuffered() (ev event, ok bool, err error) {
	if sr.err != nil {
		return event{}, false, sr.err
	}
	for sr.pos < len(sr.buf) {
		ev, ok, err := sr.step(sr.buf[sr.pos])
		sr.pos++
		if err != nil {
			sr.err = err
			return event{}, false, err
		}
		if ok {
			return ev, true, nil
		}
	}
	return event{}, false, nil
}

// fill drops what was returned and reads more bytes.
func (sr *streamReader) fill() error {
	if sr.buf == nil {
		sr.buf = readBufs.Get().(*[readChunk]byte)[:0]
	}
	if sr.start > 0 {
		n := copy(sr.buf, sr.buf[sr.start:])
		sr.shift(sr.start)
		sr.buf = sr.buf[:n]
	}
	if len(sr.buf) == cap(sr.buf) {
		// len - start <= max here (step checks every byte), so the
		// buffer never grows past max + readChunk.
		nb := make([]byte, len(sr.buf), min(2*cap(sr.buf), sr.max+readChunk))
		copy(nb, sr.buf)
		putReadBuf(sr.buf)
		sr.buf = nb
	}
	n, err := sr.r.Read(sr.buf[len(sr.buf):cap(sr.buf)])
	sr.buf = sr.buf[:len(sr.buf)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// shift moves every offset n bytes down.
func (sr *streamReader) shift(n int) {
	sr.start -= n
	sr.pos -= n
	sr.nameStart -= n
	sr.nameEnd -= n
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// step consumes the byte c at sr.pos. It reports an item when c ends one.
func (sr *streamReader) step(c byte) (event, bool, error) {
	if sr.pos-sr.start >= sr.max {
		return event{}, false, errStanzaLimit
	}
	switch sr.state {
	case stTop:
		switch {
		case c == '<':
			sr.state = stOpen
		case !isSpace(c):
			return event{}, false, fmt.Errorf("%w: text at the stream level", errServerXML)
		case !sr.afterDecl:
			sr.start = sr.pos + 1 // a keep-alive: drop it
		}
	case stOpen:
		return sr.open(c)
	case stName:
		if isSpace(c) || c == '/' || c == '>' {
			if err := sr.nameDone(); err != nil {
				return event{}, false, err
			}
			sr.state = stAttrs
			return sr.step(c)
		}
		if c == ':' {
			sr.prefixed = true
		}
	case stAttrs:
		switch {
		case c == '>':
			return sr.tagDone(false)
		case c == '/':
			sr.state = stSlash
		case c == '\'' || c == '"':
			sr.quote, sr.state = c, stValue
		case !isSpace(c) && c != '=':
			sr.nameStart, sr.state = sr.pos, stAttrName
		}
	case stAttrName:
		if isSpace(c) || c == '=' || c == '/' || c == '>' {
			if string(sr.buf[sr.nameStart:sr.pos]) == "xmlns" {
				sr.hasDefault = true
			}
			sr.state = stAttrs
			return sr.step(c)
		}
	case stValue:
		if c == sr.quote {
			sr.state = stAttrs
		}
	case stSlash:
		if c != '>' {
			return event{}, false, fmt.Errorf("%w: '/' inside a start tag", errServerXML)
		}
		return sr.tagDone(true)
	case stEndTag:
		if c == '>' {
			return sr.endTag()
		}
	case stText:
		if c == '<' {
			sr.state = stOpen
		}
	case stBang:
		if c != "[CDATA["[sr.count] {
			return event{}, false, fmt.Errorf("%w: comment or declaration inside an element", errServerXML)
		}
		if sr.count++; sr.count == len("[CDATA[") {
			sr.state, sr.count = stCDATA, 0
		}
	case stCDATA:
		sr.cdata(c)
	case stDecl:
		sr.decl(c)
	}
	return event{}, false, nil
}

// open handles the byte after '<'.
func (sr *streamReader) open(c byte) (event, bool, error) {
	top := len(sr.depth) == 0
	switch {
	case c == '/':
		sr.state = stEndTag
		if top && sr.afterDecl {
			return event{}, false, fmt.Errorf("%w: end tag after an XML declaration", errServerXML)
		}
	case c == '!':
		if top {
			return event{}, false, fmt.Errorf("%w: DOCTYPE, comment or CDATA at the stream level", errServerXML)
		}
		sr.state, sr.count = stBang, 0
	case c == '?':
		if !top || sr.afterDecl || !sr.headerAllowed() {
			return event{}, false, fmt.Errorf("%w: processing instruction", errServerXML)
		}
		sr.state, sr.count, sr.afterDecl = stDecl, 0, true
	case isSpace(c):
		return event{}, false, fmt.Errorf("%w: white space after '<'", errServerXML)
	default:
		sr.state, sr.nameStart = stName, sr.pos
		sr.hasDefault, sr.prefixed, sr.rootTag = false, c == ':', top
	}
	return event{}, false, nil
}

// headerAllowed reports whether a stream header may come now: before the
// first one, or after the client side restarted the stream.
func (sr *streamReader) headerAllowed() bool {
	return !sr.started || (sr.restarts != nil && sr.restarts.Load() > 0)
}

// nameDone ends the name of a start tag; the root of an item decides
// whether the item is a stream header.
func (sr *streamReader) nameDone() error {
	if !sr.rootTag {
		return nil
	}
	name := string(sr.buf[sr.nameStart:sr.pos])
	sr.nameEnd = sr.pos
	sr.header = false
	switch {
	case sr.afterDecl || !sr.started:
		sr.header = true
		if !sr.headerAllowed() {
			return fmt.Errorf("%w: unexpected stream header", errServerXML)
		}
	case name == sr.qname:
		if !sr.headerAllowed() {
			return fmt.Errorf("%w: unexpected stream header", errServerXML)
		}
		sr.header = true
	}
	if sr.header {
		sr.qname = name
	}
	return nil
}

// tagDone ends a start tag.
func (sr *streamReader) tagDone(empty bool) (event, bool, error) {
	inherited := len(sr.depth) > 0 && sr.depth[len(sr.depth)-1]
	declared := inherited || sr.hasDefault
	if sr.rootTag && sr.header {
		if empty {
			return event{}, false, fmt.Errorf("%w: empty stream header", errServerXML)
		}
		return sr.emit(evHeader), true, nil
	}
	if sr.rootTag {
		sr.usesDefault = false
	}
	if !sr.prefixed && !declared {
		sr.usesDefault = true
	}
	if empty {
		if len(sr.depth) == 0 {
			return sr.emit(evElement), true, nil
		}
		sr.state = stText
		return event{}, false, nil
	}
	if len(sr.depth) >= readerMaxDepth {
		return event{}, false, errStanzaLimit
	}
	sr.depth = append(sr.depth, declared)
	sr.state = stText
	return event{}, false, nil
}

// endTag ends an end tag: the item's last one, or the stream's.
func (sr *streamReader) endTag() (event, bool, error) {
	if len(sr.depth) == 0 {
		// The tag began at start: "</" + name + S? + ">" (RFC 6120 §4.4).
		if name := strings.TrimRight(string(sr.buf[sr.start+2:sr.pos]), " \t\r\n"); name != sr.qname {
			return event{}, false, fmt.Errorf("%w: end tag </%s> at the stream level", errServerXML, name)
		}
		return sr.emit(evEnd), true, nil
	}
	sr.depth = sr.depth[:len(sr.depth)-1]
	if len(sr.depth) == 0 {
		return sr.emit(evElement), true, nil
	}
	sr.state = stText
	return event{}, false, nil
}

// cdata follows a CDATA section to its "]]>".
func (sr *streamReader) cdata(c byte) {
	switch {
	case c == ']':
		sr.count = min(sr.count+1, 2)
	case c == '>' && sr.count == 2:
		sr.state, sr.count = stText, 0
	default:
		sr.count = 0
	}
}

// decl follows an XML declaration to its "?>".
func (sr *streamReader) decl(c byte) {
	switch {
	case c == '?':
		sr.count = 1
	case c == '>' && sr.count == 1:
		sr.state, sr.count = stTop, 0
	default:
		sr.count = 0
	}
}

// emit returns the item that ends at sr.pos and starts the next one.
func (sr *streamReader) emit(kind eventKind) event {
	ev := event{kind: kind, raw: append([]byte(nil), sr.buf[sr.start:sr.pos+1]...)}
	if kind == evElement {
		ev.nameEnd, ev.usesDefault = sr.nameEnd-sr.start, sr.usesDefault
	}
	if kind == evHeader {
		if sr.started && sr.restarts != nil {
			sr.restarts.Add(-1) // headerAllowed saw it above 0
		}
		sr.started = true
	}
	sr.start = sr.pos + 1
	sr.state, sr.afterDecl, sr.header, sr.usesDefault = stTop, false, false, false
	sr.depth = sr.depth[:0]
	return ev
}
