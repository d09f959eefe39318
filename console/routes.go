package console

import (
	"net/http"

	"github.com/socialaid-vn/gateway/staff"
)

// routes lists every page and action of the console.
func (c *Console) routes() {
	m := c.mux
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(c.statics)))
	m.HandleFunc("GET /console/lang", c.langSwitch)

	m.HandleFunc("GET /console/login", c.loginShow)
	m.HandleFunc("POST /console/login", c.loginCheck)
	m.Handle("POST /console/logout", c.signedIn("", c.logout))
	m.Handle("GET /console/password", c.signedIn("", c.passwordShow))
	m.Handle("POST /console/password", c.signedIn("", c.passwordSave))

	m.Handle("GET /console/{$}", c.signedIn("", c.home))

	// Announcements.
	m.Handle("GET /console/broadcasts", c.signedIn(staff.Figures, c.broadcastList))
	m.Handle("GET /console/broadcasts/new", c.signedIn(staff.Broadcast, c.broadcastNew))
	m.Handle("POST /console/broadcasts/preview", c.signedIn(staff.Broadcast, c.broadcastPreview))
	m.Handle("POST /console/broadcasts", c.signedIn(staff.Broadcast, c.broadcastCreate))
	m.Handle("GET /console/broadcasts/{id}", c.signedIn(staff.Figures, c.broadcastShow))
	m.Handle("GET /console/broadcasts/{id}/progress", c.signedIn(staff.Figures, c.broadcastProgress))
	m.Handle("GET /console/broadcasts/{id}/report.csv", c.signedIn(staff.Figures, c.broadcastCSV))
	m.Handle("POST /console/broadcasts/{id}/cancel", c.signedIn(staff.Broadcast, c.broadcastCancel))

	// Records.
	m.Handle("GET /console/records", c.signedIn(staff.Records, c.recordsShow))
	m.Handle("POST /console/records", c.signedIn(staff.Records, c.recordsUpload))

	// Cases.
	m.Handle("GET /console/cases", c.signedIn(staff.Cases, c.casesList))
	m.Handle("GET /console/cases/live", c.signedIn(staff.Cases, c.casesLive))
	m.Handle("GET /console/cases/{code}", c.signedIn(staff.Cases, c.caseShow))
	m.Handle("GET /console/cases/{code}/live", c.signedIn(staff.Cases, c.caseLive))
	m.Handle("POST /console/cases/{code}/reply", c.signedIn(staff.Cases, c.caseReply))
	m.Handle("POST /console/cases/{code}/note", c.signedIn(staff.Cases, c.caseNote))
	m.Handle("POST /console/cases/{code}/assign", c.signedIn(staff.Cases, c.caseAssign))
	m.Handle("POST /console/cases/{code}/close", c.signedIn(staff.Cases, c.caseClose))
	m.Handle("POST /console/cases/{code}/reopen", c.signedIn(staff.Cases, c.caseReopen))

	// Supervision figures.
	m.Handle("GET /console/dashboard", c.signedIn(staff.Figures, c.dashboardShow))

	// Administration.
	m.Handle("GET /console/audit", c.signedIn(staff.Manage, c.auditShow))
	m.Handle("GET /console/staff", c.signedIn(staff.Manage, c.staffList))
	m.Handle("POST /console/staff", c.signedIn(staff.Manage, c.staffCreate))
	m.Handle("POST /console/staff/{user}/{op}", c.signedIn(staff.Manage, c.staffChange))

	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "console.common.not_found")
	})
}
