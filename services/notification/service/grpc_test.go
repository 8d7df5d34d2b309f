package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/reboundhq/rebound/proto/gen/rebound/notification/v1"

	"github.com/reboundhq/rebound/rpc/auth"
	"github.com/reboundhq/rebound/rpc/server"
	"github.com/reboundhq/rebound/services/notification/service"
)

// NotificationService on a real listener: contacts added, updated, listed and removed with the
// account's key; other accounts, bad input and duplicates refused with their codes; the
// notification log listed. The real wake timers (events/timer) retry a failed send.
func TestGRPC_contactsAndNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.Mailbox.Retry.Initial = time.Second
	e.smtp.Fail(451, "try again later")
	svc, err := service.New(service.Deps{Store: e.store, JS: e.js, Fixer: e.fixer, Log: e.log}, cfg) // real clock and timers
	if err != nil {
		t.Fatal(err)
	}
	acct, other := unique("m"), unique("m")
	keys := auth.NewMemStore()
	mkey, _, err := auth.IssueKey(t.Context(), keys, auth.ScopeMerchant, acct, "merchant")
	if err != nil {
		t.Fatal(err)
	}
	rpc, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, keys, e.log, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(rpc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- rpc.Run(ctx) }()
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	addr, _ := rpc.Addrs()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	api := notificationv1.NewNotificationServiceClient(conn)
	as := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+mkey)

	added, err := api.AddContact(as, &notificationv1.AddContactRequest{AccountId: acct, Contact: &notificationv1.ContactSettings{
		Email: "ops@acme.test", Name: "Ops", TimeZone: "Europe/Paris", Frequency: freqDaily, DailyHour: 7}})
	if err != nil {
		t.Fatal(err)
	}
	c := added.GetContact()
	if c.GetContactId() == "" || c.GetAccountId() != acct || c.GetDailyHour() != 7 {
		t.Fatalf("AddContact = %v", c)
	}
	for name, tc := range map[string]struct {
		ctx  context.Context
		req  *notificationv1.AddContactRequest
		code codes.Code
		says string
	}{
		"no key":             {t.Context(), &notificationv1.AddContactRequest{AccountId: acct}, codes.Unauthenticated, ""},
		"another account":    {as, &notificationv1.AddContactRequest{AccountId: other, Contact: &notificationv1.ContactSettings{Email: "x@y.test", Frequency: freq30}}, codes.PermissionDenied, ""},
		"same email":         {as, &notificationv1.AddContactRequest{AccountId: acct, Contact: &notificationv1.ContactSettings{Email: "ops@acme.test", Frequency: freq30}}, codes.AlreadyExists, ""},
		"immediate no login": {as, &notificationv1.AddContactRequest{AccountId: acct, Contact: &notificationv1.ContactSettings{Email: "a@acme.test", Frequency: freqImmediate}}, codes.InvalidArgument, "contact.frequency"},
		"bad zone and email": {as, &notificationv1.AddContactRequest{AccountId: acct, Contact: &notificationv1.ContactSettings{Email: "not an email", TimeZone: "Mars/Base", Frequency: freq30}}, codes.InvalidArgument, "contact.time_zone"},
		"bad hour":           {as, &notificationv1.AddContactRequest{AccountId: acct, Contact: &notificationv1.ContactSettings{Email: "h@acme.test", Frequency: freqDaily, DailyHour: 24}}, codes.InvalidArgument, "contact.daily_hour"},
	} {
		_, err := api.AddContact(tc.ctx, tc.req)
		if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.says) {
			t.Errorf("%s: %v; want %s mentioning %q", name, err, tc.code, tc.says)
		}
	}
	upd, err := api.UpdateContact(as, &notificationv1.UpdateContactRequest{AccountId: acct, ContactId: c.GetContactId(),
		Contact: &notificationv1.ContactSettings{Frequency: freqImmediate, HasLogin: true}, UpdateMask: []string{"frequency", "has_login"}})
	if err != nil || upd.GetContact().GetFrequency() != freqImmediate || upd.GetContact().GetTimeZone() != "Europe/Paris" {
		t.Fatalf("UpdateContact = %v, %v", upd, err)
	}
	if _, err := api.UpdateContact(as, &notificationv1.UpdateContactRequest{AccountId: acct, ContactId: "nobody",
		Contact: &notificationv1.ContactSettings{Frequency: freq30}, UpdateMask: []string{"frequency"}}); status.Code(err) != codes.NotFound {
		t.Errorf("updating an unknown contact: %v", err)
	}

	// An alert while the SMTP server refuses: the real wake timer retries a second later.
	e.busFor(svc)
	e.needsAttention(alertRef(acct, "", "wms-1", "o1", "ship_method_unmapped", true))
	eventually(t, 30*time.Second, "the first attempt to fail", func() bool {
		res, err := api.ListNotifications(as, &notificationv1.ListNotificationsRequest{AccountId: acct})
		return err == nil && len(res.GetNotifications()) == 1 && res.GetNotifications()[0].GetAttempts() >= 1
	})
	e.smtp.Fail(0, "")
	eventually(t, 30*time.Second, "the retry to go through", func() bool {
		res, err := api.ListNotifications(as, &notificationv1.ListNotificationsRequest{AccountId: acct})
		return err == nil && len(res.GetNotifications()) == 1 &&
			res.GetNotifications()[0].GetStatus() == notificationv1.NotificationStatus_NOTIFICATION_STATUS_SENT
	})
	if n := len(e.mail("ops@acme.test")); n != 1 {
		t.Errorf("%d emails; want 1", n)
	}

	list, err := api.ListContacts(as, &notificationv1.ListContactsRequest{AccountId: acct})
	if err != nil || len(list.GetContacts()) != 1 {
		t.Fatalf("ListContacts = %v, %v", list, err)
	}
	if _, err := api.RemoveContact(as, &notificationv1.RemoveContactRequest{AccountId: acct, ContactId: c.GetContactId()}); err != nil {
		t.Fatal(err)
	}
	if list, _ := api.ListContacts(as, &notificationv1.ListContactsRequest{AccountId: acct}); len(list.GetContacts()) != 0 {
		t.Errorf("after RemoveContact: %v", list.GetContacts())
	}
	if _, err := api.ListContacts(as, &notificationv1.ListContactsRequest{AccountId: other}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("listing another account: %v", err)
	}
}
