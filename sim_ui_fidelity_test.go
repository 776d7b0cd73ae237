package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The reads the firmware's own web UIs make, as the notes list them
// (zte-newer.md §3.4, §3.5; zte-goform.md "What the firmware's own web
// UIs do"). TestSimAnswersTheWebUIsReads fails when the simulator answers
// one with something the notes say firmware never answers: HTML or a
// redirect before login, a missing loginfo, a value that is not a string,
// a pbm_init_flag the UI waits on for ever, duplicate ids while config.js
// says the database sorts.
var (
	uiF50Poller = "modem_main_state,sim_pin_status,opms_wan_mode,opms_wan_auto_mode,loginfo,new_version_state," +
		"current_upgrade_state,is_mandatory,ppp_dial_conn_fail_counter,mwan_wanlan1_linkup_speed," +
		"mwan_wanlan1_linkdown_speed,mwan_wanlan1_link_mode,mwan_wanlan1_pppoe_status,mwan_wanlan1_dhcp_status," +
		"mwan_wanlan1_link_state,wifi_chip1_ssid1_ssid,wifi_chip2_ssid1_ssid,sim_spn_name_data,sim_spn_b1_flag," +
		"sim_spn_b2_flag,network_simcard_roam,network_provider_fullname,Z5g_rsrp,network_lte_rsrp,network_rscp,lte_rssi,network_type"
	uiPreLoginReads = []string{
		uiF50Poller,
		"Language,cr_version,wa_inner_version",
		"modem_main_state,puknumber,sim_pinnumber,opms_wan_mode,psw_fail_num_str,login_lock_time,SleepStatusForSingleChipCpe",
		"Language,pin_status,ppp_status,loginfo,modem_main_state,wa_inner_version,cr_version",
	}
)

// uiGet is a browser's read: the Referer the UI sends, the cookies given.
func uiGet(t *testing.T, base, path string, q url.Values, cookie string) (int, string, string) {
	t.Helper()
	q.Set("isTest", "false")
	req, _ := http.NewRequest("GET", base+path+"?"+q.Encode(), nil)
	req.Header.Set("Referer", base+"/index.html")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func uiRead(t *testing.T, what, base, path string, q url.Values, cookie string) map[string]string {
	t.Helper()
	status, ctype, body := uiGet(t, base, path, q, cookie)
	return uiJSON(t, what, status, ctype, body)
}

// uiJSON requires a JSON object of strings (the notes: every value is a
// string) and returns it.
func uiJSON(t *testing.T, what string, status int, ctype, body string) map[string]string {
	t.Helper()
	if status != 200 || !strings.Contains(ctype, "json") && strings.HasPrefix(strings.TrimSpace(body), "<") {
		t.Fatalf("%s: HTTP %d %s %q: firmware answers the web UI's reads as JSON", what, status, ctype, clip(body, 80))
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, clip(body, 80), err)
	}
	out := map[string]string{}
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s: %s is %T, firmware writes every value as a string", what, k, v)
		}
		out[k] = s
	}
	return out
}

func TestSimAnswersTheWebUIsReads(t *testing.T) {
	for _, name := range simPersonalityNames() {
		t.Run(name, func(t *testing.T) {
			sim, m, clk := startSim(t, name, "pw", "pw")
			p := simPersonalities[name]
			for _, keys := range uiPreLoginReads {
				v := uiRead(t, "before login, "+clip(keys, 40), sim.URL, sim.simGetPath(), url.Values{"multi_data": {"1"}, "cmd": {keys}}, "")
				for _, k := range strings.Split(keys, ",") {
					if _, ok := v[k]; !ok {
						t.Errorf("before login: %s missing (hidden keys come back blank)", k)
					}
				}
				if li, ok := v["loginfo"]; ok && li != "" && !p.noLogin {
					t.Errorf("before login: loginfo %q", li)
				}
				if w, ok := v["wa_inner_version"]; ok && w != p.inner {
					t.Errorf("before login: wa_inner_version %q, want %q", w, p.inner)
				}
			}
			for _, cmd := range []string{"LD", "RD"} {
				uiRead(t, "before login, cmd="+cmd, sim.URL, sim.simGetPath(), url.Values{"cmd": {cmd}}, "")
			}

			// Logged in, as the UI is when it opens the SMS page.
			for range 3 {
				sim.Deliver("+21612345678", "a message", clk.Now())
			}
			ctx := context.Background()
			if err := m.EnsureSession(ctx); err != nil {
				t.Fatal(err)
			}
			m.jarMu.Lock()
			cookie := m.jar.header(sim.simGetPath())
			m.jarMu.Unlock()
			v := uiRead(t, "pbm_init_flag", sim.URL, sim.simGetPath(), url.Values{"cmd": {"pbm_init_flag"}}, cookie)
			if f := v["pbm_init_flag"]; f != "0" && f != "6" {
				t.Errorf("pbm_init_flag %q: the web UI waits for \"0\" or \"6\"", f)
			}
			status, ctype, body := uiGet(t, sim.URL, sim.simGetPath(), url.Values{"cmd": {"sms_data_total"}, "page": {"0"}, "data_per_page": {"500"},
				"mem_store": {"1"}, "tags": {"10"}, "order_by": {"order by id desc"}}, cookie)
			if status != 200 || strings.HasPrefix(body, "<") {
				t.Fatalf("list: %d %s %q", status, ctype, clip(body, 80))
			}
			var list struct {
				Messages []struct {
					ID string `json:"id"`
				} `json:"messages"`
			}
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatal(err)
			}
			seen, dup := map[string]bool{}, false
			for _, r := range list.Messages {
				dup = dup || seen[r.ID]
				seen[r.ID] = true
			}
			sorts := strings.Contains(p.configJS, "SMS_DATABASE_SORT_SUPPORT:true") || strings.Contains(p.configJS, "SMS_DATABASE_SORT_SUPPORT:!0")
			if dup && sorts {
				t.Errorf("duplicate ids while config.js says SMS_DATABASE_SORT_SUPPORT true: the web UI shows them as sent")
			}
		})
	}
}
