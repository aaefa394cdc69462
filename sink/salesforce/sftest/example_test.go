package sftest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func Example() {
	srv := sftest.NewServer(sftest.WithObject(sftest.Object{
		Name:   "Account",
		Fields: []sftest.Field{{Name: "Tier__c", Type: sftest.TypePicklist, Values: []string{"Gold", "Silver"}, Restricted: true}},
	}))
	defer srv.Close()

	// Log in as a client would.
	res, _ := http.PostForm(srv.URL()+"/services/oauth2/token", url.Values{
		"grant_type": {"password"}, "client_id": {sftest.DefaultClientID}, "client_secret": {sftest.DefaultClientSecret},
		"username": {sftest.DefaultUsername}, "password": {sftest.DefaultPassword},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	// Upsert by external id; a bad picklist value is refused like an org would.
	for _, tier := range []string{"Gold", "Platinum"} {
		req, _ := http.NewRequest("PATCH", srv.URL()+"/services/data/v58.0/sobjects/Account/External_Id__c/A-1",
			strings.NewReader(`{"Name":"Acme","Tier__c":"`+tier+`"}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		res, _ := http.DefaultClient.Do(req)
		res.Body.Close()
		fmt.Println(tier, res.StatusCode)
	}
	fmt.Println(srv.Records("Account")[0]["Tier__c"])
	// Output:
	// Gold 201
	// Platinum 400
	// Gold
}
