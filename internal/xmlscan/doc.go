// Package xmlscan checks one small XML document for well-formedness and
// namespace well-formedness and reports the shape of its root element.
//
// It is an internal layer of the connection manager: package bosh uses it to
// decode the <body/> wrapper of every request, and package xmppstream uses it
// to parse each stanza the client sends, once: the Doc it gets is all the
// stanza checks, the 'from' stamping and the Core need. It imports only the
// standard library.
//
// Parse scans a whole document in one pass without building a tree and
// without copying: the names, attribute values, namespace URIs and child
// element ranges it returns alias the input, and the root's name and
// attribute values come with their offsets, so that a caller can rewrite
// the root's start tag without scanning it again. Only attribute values and
// namespace URIs that contain references or whitespace to normalize are
// copied. Reusing one Doc across calls makes the common case allocation-free.
//
// The accepted language is XML 1.0 (fifth edition) with Namespaces in XML 1.0
// (third edition), restricted as XEP-0124 section 6 requires: no document
// type declaration, comments, processing instructions (other than the
// leading XML declaration) or entity references other than the five
// predefined ones. XEP-0124's rule that <body/> holds no text directly is
// the caller's choice (Limits.NoRootText): a stanza such as
// <auth>base64</auth> does. Entities are never expanded, so "billion laughs" and
// external entity attacks have nothing to work with. Depth and attribute
// counts are bounded by Limits, the scan is iterative (no recursion) and runs
// in time linear in the input.
package xmlscan
