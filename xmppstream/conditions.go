package xmppstream

// StreamCondition is a stream error condition (RFC 6120 §4.9.3), the name
// of the element a <stream:error/> carries. A Core kicks a client with one
// (Client.Kick); the client sees remote-stream-error (XEP-0206 §6).
type StreamCondition string

// The stream error conditions of RFC 6120 §4.9.3.
const (
	StreamBadFormat              StreamCondition = "bad-format"
	StreamBadNamespacePrefix     StreamCondition = "bad-namespace-prefix"
	StreamConflict               StreamCondition = "conflict"
	StreamConnectionTimeout      StreamCondition = "connection-timeout"
	StreamHostGone               StreamCondition = "host-gone"
	StreamHostUnknown            StreamCondition = "host-unknown"
	StreamImproperAddressing     StreamCondition = "improper-addressing"
	StreamInternalServerError    StreamCondition = "internal-server-error"
	StreamInvalidFrom            StreamCondition = "invalid-from"
	StreamInvalidNamespace       StreamCondition = "invalid-namespace"
	StreamInvalidXML             StreamCondition = "invalid-xml"
	StreamNotAuthorized          StreamCondition = "not-authorized"
	StreamNotWellFormed          StreamCondition = "not-well-formed"
	StreamPolicyViolation        StreamCondition = "policy-violation"
	StreamRemoteConnectionFailed StreamCondition = "remote-connection-failed"
	StreamReset                  StreamCondition = "reset"
	StreamResourceConstraint     StreamCondition = "resource-constraint"
	StreamRestrictedXML          StreamCondition = "restricted-xml"
	StreamSeeOtherHost           StreamCondition = "see-other-host"
	StreamSystemShutdown         StreamCondition = "system-shutdown"
	StreamUndefinedCondition     StreamCondition = "undefined-condition"
	StreamUnsupportedEncoding    StreamCondition = "unsupported-encoding"
	StreamUnsupportedFeature     StreamCondition = "unsupported-feature"
	StreamUnsupportedStanzaType  StreamCondition = "unsupported-stanza-type"
	StreamUnsupportedVersion     StreamCondition = "unsupported-version"
)

// StanzaErrorType is the type of a stanza error (RFC 6120 §8.3.2).
type StanzaErrorType string

// The stanza error types of RFC 6120 §8.3.2.
const (
	ErrorAuth     StanzaErrorType = "auth"
	ErrorCancel   StanzaErrorType = "cancel"
	ErrorContinue StanzaErrorType = "continue"
	ErrorModify   StanzaErrorType = "modify"
	ErrorWait     StanzaErrorType = "wait"
)

// StanzaCondition is a stanza error condition (RFC 6120 §8.3.3).
type StanzaCondition string

// The stanza error conditions of RFC 6120 §8.3.3.
const (
	BadRequest            StanzaCondition = "bad-request"
	Conflict              StanzaCondition = "conflict"
	FeatureNotImplemented StanzaCondition = "feature-not-implemented"
	Forbidden             StanzaCondition = "forbidden"
	Gone                  StanzaCondition = "gone"
	InternalServerError   StanzaCondition = "internal-server-error"
	ItemNotFound          StanzaCondition = "item-not-found"
	JIDMalformed          StanzaCondition = "jid-malformed"
	NotAcceptable         StanzaCondition = "not-acceptable"
	NotAllowed            StanzaCondition = "not-allowed"
	NotAuthorized         StanzaCondition = "not-authorized"
	PolicyViolation       StanzaCondition = "policy-violation"
	RecipientUnavailable  StanzaCondition = "recipient-unavailable"
	Redirect              StanzaCondition = "redirect"
	RegistrationRequired  StanzaCondition = "registration-required"
	RemoteServerNotFound  StanzaCondition = "remote-server-not-found"
	RemoteServerTimeout   StanzaCondition = "remote-server-timeout"
	ResourceConstraint    StanzaCondition = "resource-constraint"
	ServiceUnavailable    StanzaCondition = "service-unavailable"
	SubscriptionRequired  StanzaCondition = "subscription-required"
	UndefinedCondition    StanzaCondition = "undefined-condition"
	UnexpectedRequest     StanzaCondition = "unexpected-request"
)
