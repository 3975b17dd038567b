package bosh

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
)

func gzipReader(b []byte) (io.Reader, error) { return gzip.NewReader(bytes.NewReader(b)) }
func zlibReader(b []byte) (io.Reader, error) { return zlib.NewReader(bytes.NewReader(b)) }

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
