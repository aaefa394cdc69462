package sftest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func parsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("JWT public key: no PEM block found")
	}
	var key crypto.PublicKey
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("JWT certificate: %w", err)
		}
		key = cert.PublicKey
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("JWT public key: %w", err)
		}
		key = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("JWT public key: %w", err)
		}
		key = k
	default:
		return nil, fmt.Errorf("JWT public key: unsupported PEM block %q", block.Type)
	}
	if _, ok := key.(*rsa.PublicKey); !ok {
		return nil, errors.New("JWT public key: not an RSA key")
	}
	return key, nil
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, oauthError{Error: code, Description: desc})
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	ID          string `json:"id"`
	TokenType   string `json:"token_type"`
	IssuedAt    string `json:"issued_at"`
	Signature   string `json:"signature"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "must use HTTP POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "invalid request body")
		return
	}
	clientID, clientSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && clientID == "" {
		clientID, clientSecret = u, p
	}
	user := s.cfg.username
	switch r.PostForm.Get("grant_type") {
	case "password":
		if !s.checkClient(w, clientID, clientSecret) {
			return
		}
		if r.PostForm.Get("username") != s.cfg.username || r.PostForm.Get("password") != s.cfg.password {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "authentication failure")
			return
		}
	case "client_credentials":
		if !s.checkClient(w, clientID, clientSecret) {
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if !s.checkJWT(w, r.PostForm.Get("assertion")) {
			return
		}
	case "":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	ss := s.newSession(user)
	issued := strconv.FormatInt(time.Now().UnixMilli(), 10)
	idURL := s.url + "/id/" + orgID + "/" + userID
	mac := hmac.New(sha256.New, []byte(s.cfg.clientSecret))
	mac.Write([]byte(idURL + issued))
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: ss.token, InstanceURL: s.url, ID: idURL, TokenType: "Bearer",
		IssuedAt: issued, Signature: base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	})
}

func (s *Server) checkClient(w http.ResponseWriter, id, secret string) bool {
	if id != s.cfg.clientID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
		return false
	}
	if secret != s.cfg.clientSecret {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
		return false
	}
	return true
}

// checkJWT validates a JWT bearer assertion the way Salesforce documents it:
// RS256 signature, iss = client id, sub = username, aud = the login URL, and
// an exp in the future.
func (s *Server) checkJWT(w http.ResponseWriter, assertion string) bool {
	if s.cfg.jwtKey == nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "invalid assertion")
		return false
	}
	tok, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return s.cfg.jwtKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "expired authorization code")
			return false
		}
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "invalid assertion")
		return false
	}
	iss, _ := tok.Claims.GetIssuer()
	if iss != s.cfg.clientID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
		return false
	}
	aud, _ := tok.Claims.GetAudience()
	audOK := false
	for _, a := range aud {
		a = strings.TrimSuffix(a, "/")
		if a == s.url || a == "https://login.salesforce.com" || a == "https://test.salesforce.com" {
			audOK = true
		}
	}
	if !audOK {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "audience is invalid")
		return false
	}
	sub, _ := tok.Claims.GetSubject()
	if sub != s.cfg.username {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "user hasn't approved this consumer")
		return false
	}
	return true
}

type soapLogin struct {
	Username string `xml:"Body>login>username"`
	Password string `xml:"Body>login>password"`
}

const soapFault = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>%s</sf:exceptionCode><sf:exceptionMessage>%s</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`

func writeSOAPFault(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, soapFault, "sf:"+code, html.EscapeString(code+": "+msg), code, html.EscapeString(msg))
}

// handleSOAPLogin answers the partner API login() call, which simpleforce and
// jsforce (without a client id) use.
func (s *Server) handleSOAPLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeSOAPFault(w, "INVALID_OPERATION", "Only POST is supported")
		return
	}
	ver := strings.TrimPrefix(r.URL.Path, "/services/Soap/u/")
	if i := strings.IndexByte(ver, '/'); i >= 0 {
		ver = ver[:i]
	}
	if _, ok := parseVersion(ver); !ok {
		writeSOAPFault(w, "UNSUPPORTED_API_VERSION", "Invalid Api version specified on URL")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req soapLogin
	if err == nil {
		err = xml.Unmarshal(body, &req)
	}
	if err != nil || req.Username == "" {
		writeSOAPFault(w, "INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
		return
	}
	if req.Username != s.cfg.username || req.Password != s.cfg.password {
		writeSOAPFault(w, "INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
		return
	}
	ss := s.newSession(req.Username)
	org15 := orgID[:15]
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>`+
		`<metadataServerUrl>%[1]s/services/Soap/m/%[2]s/%[3]s</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox>`+
		`<serverUrl>%[1]s/services/Soap/u/%[2]s/%[3]s</serverUrl><sessionId>%[4]s</sessionId><userId>%[5]s</userId>`+
		`<userInfo><currencySymbol>$</currencySymbol><organizationId>%[6]s</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>retl Emulated Org</organizationName>`+
		`<profileId>00e5g000000DEMOAAA</profileId><sessionSecondsValid>%[7]d</sessionSecondsValid><userEmail>%[8]s</userEmail><userFullName>Demo User</userFullName>`+
		`<userId>%[5]s</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>%[8]s</userName><userTimeZone>UTC</userTimeZone><userType>Standard</userType></userInfo>`+
		`</result></loginResponse></soapenv:Body></soapenv:Envelope>`,
		s.url, ver, org15, ss.token, userID, orgID, int(s.cfg.sessionTTL.Seconds()), html.EscapeString(s.cfg.username))
}

func (s *Server) handleIdentity(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(r) {
		writeErrors(w, http.StatusForbidden, newErr("Bad_OAuth_Token", "Bad_OAuth_Token"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.url + "/id/" + orgID + "/" + userID, "user_id": userID, "organization_id": orgID,
		"username": s.cfg.username, "display_name": "Demo User", "email": s.cfg.username, "active": true,
		"urls": map[string]string{
			"rest":  s.url + "/services/data/v{version}/",
			"query": s.url + "/services/data/v{version}/query/",
		},
	})
}
