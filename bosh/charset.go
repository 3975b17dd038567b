package bosh

import (
	"bytes"
	"errors"
	"mime"
	"strings"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// lookupCharsets resolves the configured charsets, keyed by the canonical
// name golang.org/x/net/html/charset gives them, and returns the value of
// the 'charsets' attribute (§7.2: space-separated).
func lookupCharsets(names []string) (map[string]encoding.Encoding, string) {
	m := make(map[string]encoding.Encoding, len(names))
	for _, n := range names {
		if e, canon := charset.Lookup(n); e != nil {
			m[canon] = e
		}
	}
	return m, strings.Join(names, " ")
}

// toUTF8 converts a request body to UTF-8 when it names a charset the
// handler advertises (§7.2 'charsets'): in the Content-Type header, or else
// in the XML declaration. A charset that is not advertised is ignored, as
// the Content-Type is (§5): the body is taken as UTF-8 and
// refused if it is not.
func (h *Handler) toUTF8(data []byte, contentType string) ([]byte, error) {
	if len(h.charsets) == 0 {
		return data, nil
	}
	label := contentCharset(contentType)
	if label == "" {
		label = declaredEncoding(data)
	}
	if label == "" {
		return data, nil
	}
	_, canon := charset.Lookup(label)
	enc := h.charsets[canon]
	if enc == nil || canon == "utf-8" {
		return data, nil
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return nil, newError(BadRequest, errors.New("bosh: body is not valid "+label))
	}
	return out, nil
}

// contentCharset returns the charset parameter of a Content-Type.
func contentCharset(ct string) string {
	if !strings.Contains(strings.ToLower(ct), "charset") {
		return ""
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return params["charset"]
}

// declaredEncoding returns the encoding named by a leading XML declaration.
func declaredEncoding(data []byte) string {
	if !bytes.HasPrefix(data, []byte("<?xml")) {
		return ""
	}
	end := bytes.Index(data, []byte("?>"))
	if end < 0 {
		return ""
	}
	decl := data[:end]
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) < 2 || (rest[0] != '\'' && rest[0] != '"') {
		return ""
	}
	q := rest[0]
	j := bytes.IndexByte(rest[1:], q)
	if j < 0 {
		return ""
	}
	return string(rest[1 : 1+j])
}
