package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultWebhookTimeout bounds one webhook request.
const DefaultWebhookTimeout = 10 * time.Second

// Webhook posts Slack-compatible JSON, {"text": "..."}, to a URL: Slack and
// Mattermost incoming webhooks, Microsoft Teams workflows and most chat
// tools accept it. The URL usually holds a token, so nothing Webhook
// returns or logs contains it: errors name only the host.
type Webhook struct {
	url    string
	host   string
	client *http.Client
}

// WebhookOption tunes a Webhook.
type WebhookOption func(*Webhook)

// WithHTTPClient replaces the HTTP client. Its redirect policy is replaced:
// a webhook is never followed to another address.
func WithHTTPClient(c *http.Client) WebhookOption {
	return func(w *Webhook) {
		cp := *c
		w.client = &cp
	}
}

// WithWebhookTimeout bounds each request (default DefaultWebhookTimeout).
func WithWebhookTimeout(d time.Duration) WebhookOption {
	return func(w *Webhook) { w.client.Timeout = d }
}

// NewWebhook returns a notifier posting to rawURL, an http or https URL.
func NewWebhook(rawURL string, opts ...WebhookOption) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	// url.Parse's error quotes the URL; say only what is wrong.
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("webhook: the URL must be an absolute http or https URL")
	}
	// The URL is the credential: plain http only to this machine.
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("webhook: %s: plain http is allowed only to a loopback host; use https", u.Hostname())
	}
	w := &Webhook{url: rawURL, host: u.Hostname(), client: &http.Client{Timeout: DefaultWebhookTimeout}}
	for _, o := range opts {
		o(w)
	}
	// A redirect would carry the message somewhere the configuration does
	// not name; take it as the answer instead (a non-2xx status).
	w.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return w, nil
}

// Name is "webhook HOST", for logs.
func (w *Webhook) Name() string { return "webhook " + w.host }

// Notify posts subject and body as one message: the subject in bold on the
// first line. A status other than 2xx is an error.
func (w *Webhook) Notify(ctx context.Context, subject, body string) error {
	// Marshalling a map of strings cannot fail.
	payload, _ := json.Marshal(map[string]string{"text": "*" + subject + "*\n" + body})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("webhook to %s: cannot build the request", w.host)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook to %s: %w", w.host, w.cause(ctx, err))
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused; the body is not
	// reported, as an error page may echo the request.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook to %s: HTTP %d %s", w.host, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return nil
}

// cause replaces a transport error, whose *url.Error text quotes the URL,
// with what can be said without it.
func (w *Webhook) cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return fmt.Errorf("timed out after %s", w.client.Timeout)
	}
	// A dial or DNS error names the host and port, never the path.
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe
	}
	return errors.New("request failed")
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
