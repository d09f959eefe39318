package config

import (
	"strings"
	"testing"
)

func TestZaloVariables(t *testing.T) {
	full := map[string]string{"ZALO_APP_ID": "4318", "ZALO_APP_SECRET": "s", "ZALO_OA_SECRET_KEY": "k", "ZALO_REFRESH_TOKEN": "r"}
	c, err := Load(env(full))
	if err != nil {
		t.Fatal(err)
	}
	if !c.ZaloEnabled() || c.ZaloAPIURL != "https://openapi.zalo.me" || c.ZaloOAuthURL != "https://oauth.zaloapp.com" ||
		c.ZaloZNSURL != "https://business.openapi.zalo.me" || c.ZaloMPS != 10 {
		t.Errorf("zalo defaults: %+v", c)
	}
	for _, missing := range []string{"ZALO_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_REFRESH_TOKEN"} {
		vars := map[string]string{}
		for k, v := range full {
			if k != missing {
				vars[k] = v
			}
		}
		if _, err := Load(env(vars)); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: %v", missing, err)
		}
	}
	for name, val := range map[string]string{"ZALO_APP_ID": "my-app", "ZALO_API_URL": "ftp://x", "ZALO_MPS": "0"} {
		vars := map[string]string{}
		for k, v := range full {
			vars[k] = v
		}
		vars[name] = val
		if _, err := Load(env(vars)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, val, err)
		}
	}
}
