package main

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// appendCreate appends the session creation request (XEP-0124 §7.1,
// XEP-0206 §3): hold 1, like a browser client.
func appendCreate(b []byte, rid uint64, domain string, waitSec int) []byte {
	b = append(b, "<body content='text/xml; charset=utf-8' hold='1' rid='"...)
	b = strconv.AppendUint(b, rid, 10)
	b = append(b, "' to='"...)
	b = xmppwire.AppendAttr(b, domain)
	b = append(b, "' ver='1.6' wait='"...)
	b = strconv.AppendInt(b, int64(waitSec), 10)
	b = append(b, "' xml:lang='en' xmpp:version='1.0' xmlns='"+xmppwire.NSHTTPBind+"' xmlns:xmpp='"+xmppwire.NSXBOSH+"'/>"...)
	return b
}

// appendOpen appends the start of a request body of session sid (§8);
// extra is more attributes, already escaped, each after a space. The
// caller appends payloads and closeBody.
func appendOpen(b []byte, rid uint64, sid, extra string) []byte {
	b = append(b, "<body rid='"...)
	b = strconv.AppendUint(b, rid, 10)
	b = append(b, "' sid='"...)
	b = xmppwire.AppendAttr(b, sid)
	b = append(b, '\'')
	b = append(b, extra...)
	return append(b, " xmlns='"+xmppwire.NSHTTPBind+"'>"...)
}

const closeBody = "</body>"

// appendRestart appends a stream restart request (XEP-0206 §5).
func appendRestart(b []byte, rid uint64, sid, domain string) []byte {
	extra := append([]byte(" to='"), xmppwire.AppendAttr(nil, domain)...)
	extra = append(extra, "' xml:lang='en' xmpp:restart='true' xmlns:xmpp='"+xmppwire.NSXBOSH+"'"...)
	b = appendOpen(b, rid, sid, string(extra))
	return append(b, closeBody...)
}

// appendMessage appends one chat message whose body is "from seq nanos":
// the sender's session number, its sequence number and its send time in
// nanoseconds since the tool started. head is the message's start up to
// and including "<body>".
func appendMessage(b, head []byte, from, seq int, nanos int64) []byte {
	b = append(b, head...)
	b = strconv.AppendInt(b, int64(from), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, nanos, 10)
	return append(b, "</body></message>"...)
}

// messageHead returns the start of a chat message to jid, up to "<body>".
func messageHead(jid string) []byte {
	b := append([]byte("<message to='"), xmppwire.AppendAttr(nil, jid)...)
	return append(b, "' type='chat' xmlns='jabber:client'><body>"...)
}

// stamp is what a received message's body carries.
type stamp struct {
	from, seq int
	nanos     int64
}

// parseStamp finds the <body/> of a message element and reads the stamp
// appendMessage wrote; ok is false for any other message.
func parseStamp(el []byte) (st stamp, ok bool) {
	var text []byte
	for rest := el; ; {
		i := bytes.Index(rest, []byte("<body"))
		if i < 0 {
			return st, false
		}
		rest = rest[i+len("<body"):]
		if len(rest) > 0 && (rest[0] == '>' || rest[0] == ' ') {
			text = rest[bytes.IndexByte(rest, '>')+1:]
			break
		}
	}
	end := bytes.IndexByte(text, '<')
	if end < 0 {
		return st, false
	}
	f := bytes.Fields(text[:end])
	if len(f) != 3 {
		return st, false
	}
	from, err1 := strconv.Atoi(string(f[0]))
	seq, err2 := strconv.Atoi(string(f[1]))
	nanos, err3 := strconv.ParseInt(string(f[2]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return st, false
	}
	return stamp{from: from, seq: seq, nanos: nanos}, true
}

// reply is a parsed response body. Reuse one reply per session.
type reply struct {
	data []byte
	doc  xmlscan.Doc
}

// terminated is the error of a terminate body from the server (XEP-0124 §17.2).
type terminated struct{ condition string }

func (t *terminated) Error() string { return "terminated by the server: " + t.condition }

// parse scans a response body (XEP-0124 §6). A body of type='terminate'
// is a *terminated error.
func (r *reply) parse(data []byte) error {
	r.data = data
	if err := xmlscan.Parse(data, xmlscan.Limits{MaxDepth: 64, NoRootText: true}, &r.doc); err != nil {
		return fmt.Errorf("malformed response: %w", err)
	}
	if string(r.doc.Space) != xmppwire.NSHTTPBind || string(r.doc.Local) != "body" {
		return fmt.Errorf("response root is {%s}%s, not a BOSH body", r.doc.Space, r.doc.Local)
	}
	if string(r.attr("type")) == "terminate" {
		cond := string(r.attr("condition"))
		if cond == "" {
			cond = "no condition"
		}
		return &terminated{condition: cond}
	}
	return nil
}

// attr returns the value of the unqualified body attribute name, or nil.
func (r *reply) attr(name string) []byte {
	v, _ := r.doc.Attr("", name)
	return v
}

// child returns the bytes of the i-th child element.
func (r *reply) child(i int) []byte {
	c := r.doc.Children[i]
	return r.data[c.Start:c.End]
}

// startTag returns el's start tag, up to its first '>'.
func startTag(el []byte) []byte {
	if i := bytes.IndexByte(el, '>'); i >= 0 {
		return el[:i+1]
	}
	return el
}

// hasID reports whether el's start tag carries id='id' (or with double quotes).
func hasID(el []byte, id string) bool {
	tag := startTag(el)
	return bytes.Contains(tag, []byte(" id='"+id+"'")) || bytes.Contains(tag, []byte(` id="`+id+`"`))
}

// textOf returns the text of the first <name>…</name> in el, or "".
func textOf(el []byte, name string) string {
	open := "<" + name + ">"
	i := bytes.Index(el, []byte(open))
	if i < 0 {
		return ""
	}
	rest := el[i+len(open):]
	j := bytes.Index(rest, []byte("</"+name+">"))
	if j < 0 {
		return ""
	}
	return string(bytes.TrimSpace(rest[:j]))
}
