package sftest

import (
	"math"
	"strconv"
)

// catalog builds the schema of a fresh org: the standard objects a backup
// meets plus custom objects that exercise master-detail, lookup, self-lookup,
// polymorphic, compound, formula and base64 fields. Each call returns new
// objects (an org mutates its own schema).
func catalog() []*Object {
	var objs []*Object
	add := func(o *Object) *Object { objs = append(objs, o); return o }

	// ---- setup objects ----
	org := add(newObject("Organization", "00D"))
	org.fixed = 1
	org.Createable, org.Deletable, org.Undeletable, org.Searchable, org.Triggerable = false, false, false, false, false
	org.Replicateable = false
	head(org)
	org.add(
		newField("Name", "string").length(80).nameField().g(gConst(vStr("Orgsnap Demo Org"))),
		newField("Division", "string").length(80),
		newField("Phone", "phone").g(gConst(vStr("(415) 555-0100"))),
		newField("PrimaryContact", "string").length(80).g(gConst(vStr("Orgsnap Admin"))),
		newField("DefaultLocaleSidKey", "picklist").g(gConst(vStr("en_US"))),
		newField("LanguageLocaleKey", "picklist").g(gConst(vStr("en_US"))),
		newField("TimeZoneSidKey", "picklist").g(gConst(vStr("America/Los_Angeles"))),
		newField("OrganizationType", "picklist").g(gConst(vStr("Enterprise Edition"))),
		newField("InstanceName", "string").length(5).g(gConst(vStr("EMU1"))),
		newField("IsSandbox", "boolean").req().g(gConst(vBool(false))),
		newField("NamespacePrefix", "string").length(15),
		newField("TrialExpirationDate", "datetime"),
	)
	address(org, "", func(c *gctx, part int) Value {
		return [...]Value{vStr("415 Mission St"), vStr("San Francisco"), vStr("CA"), vStr("94105"), vStr("United States"), null, null, null}[part]
	})
	for _, f := range org.Fields {
		f.Createable, f.Updateable = false, false
	}
	audit(org)

	u := add(newObject("User", "005"))
	u.weight, u.minN = 0.0005, 5
	u.Deletable, u.Undeletable = false, false
	head(u)
	u.add(
		newField("Username", "string").length(80).req().idLookup().g(func(c *gctx) Value {
			if c.i == 0 {
				return vStr(adminUsername)
			}
			b := appendASCIILower(nil, fullName(c))
			return vStr(string(b) + "." + strconv.FormatInt(c.i, 10) + "@orgsnap-demo.example")
		}),
		newField("LastName", "string").length(80).req().g(func(c *gctx) Value {
			if c.i == 0 {
				return vStr("Admin")
			}
			return gLast(c)
		}),
		newField("FirstName", "string").length(40).g(func(c *gctx) Value {
			if c.i == 0 {
				return vStr("Orgsnap")
			}
			return gFirst(c)
		}),
	)
	u.add(nameOf(u),
		newField("Alias", "string").length(8).req().g(func(c *gctx) Value {
			return vStr("u" + strconv.FormatInt(c.i, 36))
		}),
		newField("Email", "email").length(128).req().g(func(c *gctx) Value {
			if c.i == 0 {
				return vStr("admin@orgsnap.test")
			}
			return gEmail(c)
		}),
		newField("IsActive", "boolean").req().defaulted().g(func(c *gctx) Value { return vBool(c.i == 0 || c.frac(1) < 0.9) }),
		newField("Title", "string").length(80).g(gNull(0.2, gPick(titles...))),
		newField("Department", "string").length(80).g(gPick("Sales", "Support", "Marketing", "Finance", "IT", "Operations")),
		newField("CompanyName", "string").length(80).g(gConst(vStr("Orgsnap Demo"))),
		newField("Phone", "phone").g(gPhone),
		newField("TimeZoneSidKey", "picklist").req().g(gSkew("America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Paris", "Asia/Tokyo")),
		newField("LocaleSidKey", "picklist").req().g(gSkew("en_US", "en_GB", "fr_FR", "de_DE", "ja_JP")),
		newField("LanguageLocaleKey", "picklist").req().g(gConst(vStr("en_US"))),
		newField("EmailEncodingKey", "picklist").req().g(gConst(vStr("UTF-8"))),
		newField("UserType", "picklist").ro().g(gConst(vStr("Standard"))),
		newField("LastLoginDate", "datetime").ro().g(func(c *gctx) Value {
			return Value{K: KDateTime, I: c.o.baseMs - c.intn(1, 30*dayMs) - c.intn(1, 30*dayMs)%1000}
		}),
	)
	audit(u)

	rt := add(newObject("RecordType", "012"))
	rt.fixed = len(recordTypes)
	rt.Deletable, rt.Undeletable = false, false
	head(rt)
	rt.add(
		newField("Name", "string").length(80).nameField().g(func(c *gctx) Value { return vStr(recordTypes[c.i].name) }),
		newField("DeveloperName", "string").length(80).req().g(func(c *gctx) Value { return vStr(recordTypes[c.i].dev) }),
		newField("SobjectType", "picklist").req().g(func(c *gctx) Value { return vStr(recordTypes[c.i].obj) }),
		newField("IsActive", "boolean").req().g(gConst(vBool(true))),
		newField("Description", "string").g(gConst(null)),
		newField("NamespacePrefix", "string").ro(),
	)
	audit(rt)

	ts := add(newObject("TaskStatus", "01J"))
	ts.fixed = 4
	ts.Createable, ts.Updateable, ts.Deletable, ts.Undeletable = false, false, false, false
	ts.Replicateable, ts.BulkUnsupported = false, true
	head(ts)
	taskStatuses := []string{"Not Started", "In Progress", "Completed", "Waiting on someone else"}
	ts.add(
		newField("MasterLabel", "string").ro().g(func(c *gctx) Value { return vStr(taskStatuses[c.i]) }),
		newField("ApiName", "string").ro().g(func(c *gctx) Value { return vStr(taskStatuses[c.i]) }),
		newField("SortOrder", "int").ro().g(func(c *gctx) Value { return vInt(c.i + 1) }),
		newField("IsDefault", "boolean").ro().g(func(c *gctx) Value { return vBool(c.i == 0) }),
		newField("IsClosed", "boolean").ro().g(func(c *gctx) Value { return vBool(c.i == 2) }),
	)
	audit(ts)

	// ---- sales ----
	acc := add(newObject("Account", "001"))
	acc.weight, acc.minN = 0.08, 3
	acc.Mergeable, acc.FeedEnabled = true, true
	head(acc)
	acc.add(
		ref("MasterRecordId", "MasterRecord", "Account").ro(),
		newField("Name", "string").nameField().g(gCompany),
		picklist("Type", "Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other").g(gNull(0.1, gSkew("Customer - Direct", "Prospect", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other"))),
		recordTypeRef(0, 2),
		ref("ParentId", "Parent", "Account").g(func(c *gctx) Value {
			if c.i < 10 || c.frac(1) > 0.05 {
				return null
			}
			return c.refTo("Account", c.intn(2, c.i))
		}),
	)
	address(acc, "Billing", gAddress(1))
	address(acc, "Shipping", gAddress(1)) // same city as billing: shipping usually equals billing
	acc.add(
		newField("Phone", "phone").g(gNull(0.05, gPhone)),
		newField("Fax", "phone").g(gNull(0.7, gPhone)),
		newField("AccountNumber", "string").length(40).g(func(c *gctx) Value { return vStr("CD" + strconv.FormatInt(100000+c.i, 10)) }),
		newField("Website", "url").g(gNull(0.15, func(c *gctx) Value {
			return vStr("https://www." + string(appendASCIILower(nil, companyHeads[c.rndFix(kCompany)%uint64(len(companyHeads))])) + ".example.com")
		})),
		newField("Sic", "string").length(20).g(gNull(0.6, func(c *gctx) Value { return vStr(strconv.FormatInt(1000+c.intn(1, 9000), 10)) })).label("SIC Code"),
		picklist("Industry", industries...).g(gNull(0.1, gPick(industries...))),
		newField("AnnualRevenue", "currency").g(gNull(0.2, gMoney(1e5, 5e9, false))),
		newField("NumberOfEmployees", "int").g(gNull(0.2, func(c *gctx) Value { return vInt(int64(math.Pow(10, 1+4*c.frac(1)))) })),
		picklist("Ownership", "Public", "Private", "Subsidiary", "Other").g(gNull(0.5, gPick("Public", "Private", "Subsidiary", "Other"))),
		newField("TickerSymbol", "string").length(20).g(gNull(0.9, func(c *gctx) Value {
			return vStr(string([]byte{byte('A' + c.intn(1, 26)), byte('A' + c.intn(2, 26)), byte('A' + c.intn(3, 26))}))
		})),
		newField("Description", "textarea").length(32000).g(gNull(0.5, gWords(8, 40))),
		picklist("Rating", "Hot", "Warm", "Cold").g(gNull(0.4, gPick("Hot", "Warm", "Cold"))),
		newField("Site", "string").length(80).g(gNull(0.8, gPick("HQ", "Branch", "Plant", "Warehouse"))),
		picklist("AccountSource", "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other").g(gNull(0.3, gSkew("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"))),
		newField("LastActivityDate", "date").ro().g(gNull(0.3, gDate(0, 700))),
		picklist("Customer_Tier__c", "Platinum", "Gold", "Silver", "Bronze").restricted().g(gNull(0.3, gSkew("Bronze", "Silver", "Gold", "Platinum"))),
		newField("SLA_Expiration__c", "date").g(gNull(0.5, gDate(200, 1500))),
		newField("Active__c", "boolean").req().def(true).g(gBool(0.85)),
		newField("Legacy_Id__c", "string").length(20).ext().g(func(c *gctx) Value { return vStr("LEG-" + strconv.FormatInt(500000+c.i, 10)) }),
	)
	acc.Field("Legacy_Id__c").Unique = true
	audit(acc, "User")

	con := add(newObject("Contact", "003"))
	con.weight, con.minN = 0.16, 3
	con.Mergeable, con.FeedEnabled = true, true
	head(con)
	con.add(
		ref("MasterRecordId", "MasterRecord", "Contact").ro(),
		ref("AccountId", "Account", "Account").g(func(c *gctx) Value { return c.blockRef("Account") }),
		newField("LastName", "string").length(80).req().g(gLast),
		newField("FirstName", "string").length(40).g(gNull(0.02, gFirst)),
		picklist("Salutation", "Mr.", "Ms.", "Mrs.", "Dr.", "Prof.").g(gNull(0.5, gPick("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."))),
	)
	con.add(nameOf(con))
	address(con, "Mailing", gAddress(2))
	con.add(
		newField("Phone", "phone").g(gNull(0.1, gPhone)),
		newField("MobilePhone", "phone").g(gNull(0.4, gPhone)),
		newField("Email", "email").idLookup().g(gNull(0.05, gEmail)),
		newField("Title", "string").length(128).g(gNull(0.2, gPick(titles...))),
		newField("Department", "string").length(80).g(gNull(0.5, gPick("Sales", "Finance", "IT", "Operations", "Procurement", "Legal"))),
		newField("Birthdate", "date").g(gNull(0.7, func(c *gctx) Value { return Value{K: KDate, I: -3650 + c.intn(1, 12000)} })),
		ref("ReportsToId", "ReportsTo", "Contact").g(func(c *gctx) Value {
			// the first contact of the same account, when this is not it
			nA, nC := c.count("Account"), c.st.genN
			if nA == 0 || c.frac(1) < 0.6 {
				return null
			}
			a := c.i * nA / nC
			first := (a*nC + nA - 1) / nA
			if first >= c.i {
				return null
			}
			return c.refTo("Contact", first)
		}),
		picklist("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other").g(gNull(0.4, gSkew("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"))),
		newField("HasOptedOutOfEmail", "boolean").req().def(false).g(gBool(0.08)),
		newField("DoNotCall", "boolean").req().def(false).g(gBool(0.05)),
		newField("Description", "textarea").length(32000).g(gNull(0.7, gWords(5, 25))),
		picklist("Level__c", "Primary", "Secondary", "Tertiary").g(gNull(0.5, gPick("Primary", "Secondary", "Tertiary"))),
		newField("Languages__c", "string").length(100).g(gNull(0.6, gSkew("English", "English;Spanish", "French", "German", "Japanese"))),
		newField("Customer_Since__c", "date").g(gNull(0.4, gDate(-400, 0))),
	)
	audit(con, "User")

	lead := add(newObject("Lead", "00Q"))
	lead.weight, lead.minN = 0.07, 2
	lead.Mergeable = true
	head(lead)
	lead.add(
		ref("MasterRecordId", "MasterRecord", "Lead").ro(),
		newField("LastName", "string").length(80).req().g(gLast),
		newField("FirstName", "string").length(40).g(gNull(0.03, gFirst)),
		picklist("Salutation", "Mr.", "Ms.", "Mrs.", "Dr.", "Prof.").g(gNull(0.5, gPick("Mr.", "Ms.", "Mrs.", "Dr."))),
	)
	lead.add(nameOf(lead),
		newField("Title", "string").length(128).g(gNull(0.3, gPick(titles...))),
		newField("Company", "string").req().g(gCompany),
	)
	address(lead, "", gAddress(3))
	lead.add(
		newField("Phone", "phone").g(gNull(0.2, gPhone)),
		newField("MobilePhone", "phone").g(gNull(0.5, gPhone)),
		newField("Email", "email").g(gNull(0.1, gEmail)),
		newField("Website", "url").g(gNull(0.6, gConst(vStr("https://www.example.com")))),
		newField("Description", "textarea").length(32000).g(gNull(0.7, gWords(5, 30))),
		picklist("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other").g(gNull(0.2, gSkew("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"))),
		picklist("Status", "Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted").req().def("Open - Not Contacted").g(gSkew("Open - Not Contacted", "Working - Contacted", "Closed - Not Converted", "Closed - Converted")),
		picklist("Industry", industries...).g(gNull(0.3, gPick(industries...))),
		picklist("Rating", "Hot", "Warm", "Cold").g(gNull(0.5, gPick("Hot", "Warm", "Cold"))),
		newField("AnnualRevenue", "currency").g(gNull(0.5, gMoney(1e5, 1e9, false))),
		newField("NumberOfEmployees", "int").g(gNull(0.5, gInt(1, 20000))),
		newField("IsConverted", "boolean").createOnly().req().defaulted().g(gConst(vBool(false))),
		newField("ConvertedDate", "date").ro(),
		ref("ConvertedAccountId", "ConvertedAccount", "Account").ro(),
		ref("ConvertedContactId", "ConvertedContact", "Contact").ro(),
		ref("ConvertedOpportunityId", "ConvertedOpportunity", "Opportunity").ro(),
		newField("HasOptedOutOfEmail", "boolean").req().def(false).g(gBool(0.1)),
	)
	audit(lead, "Group", "User")

	camp := add(newObject("Campaign", "701"))
	camp.weight, camp.minN = 0.001, 3
	head(camp)
	camp.add(
		newField("Name", "string").length(80).nameField().g(func(c *gctx) Value {
			return vStr(c.pick(1, []string{"Spring", "Summer", "Autumn", "Winter"}) + " " + strconv.Itoa(2023+int(c.intn(2, 4))) + " " + c.pick(3, []string{"Webinar", "Trade Show", "Email Blast", "Roadshow", "Partner Summit"}))
		}),
		ref("ParentId", "Parent", "Campaign").g(func(c *gctx) Value {
			if c.i == 0 || c.frac(1) > 0.1 {
				return null
			}
			return c.refTo("Campaign", c.intn(2, c.i))
		}),
		picklist("Type", "Conference", "Webinar", "Trade Show", "Public Relations", "Partners", "Referral Program", "Advertisement", "Banner Ads", "Direct Mail", "Email", "Telemarketing", "Other").g(gPick("Conference", "Webinar", "Trade Show", "Email", "Direct Mail")),
		picklist("Status", "Planned", "In Progress", "Completed", "Aborted").g(gSkew("Completed", "In Progress", "Planned", "Aborted")),
		newField("StartDate", "date").g(gDate(0, 30)),
		newField("EndDate", "date").g(gDate(30, 120)),
		newField("BudgetedCost", "currency").g(gMoney(1000, 200000, false)),
		newField("ActualCost", "currency").g(gNull(0.3, gMoney(1000, 200000, false))),
		newField("ExpectedRevenue", "currency").g(gMoney(10000, 2e6, false)),
		newField("IsActive", "boolean").req().def(false).g(gBool(0.3)),
		newField("Description", "textarea").length(32000).g(gNull(0.5, gWords(5, 20))),
	)
	audit(camp, "User")

	prod := add(newObject("Product2", "01t"))
	prod.weight, prod.minN = 0.002, 10
	head(prod)
	prod.add(
		newField("Name", "string").nameField().g(func(c *gctx) Value {
			return vStr(c.pick(1, productNames) + " " + c.pick(2, productTiers) + " " + strconv.FormatInt(100+c.i, 10))
		}),
		newField("ProductCode", "string").g(func(c *gctx) Value { return vStr("PRD-" + strconv.FormatInt(10000+c.i, 10)) }),
		newField("Description", "textarea").length(4000).g(gNull(0.3, gWords(6, 20))),
		picklist("Family", "Hardware", "Software", "Services", "Support").g(gPick("Hardware", "Software", "Services", "Support")),
		newField("IsActive", "boolean").req().def(false).g(gBool(0.9)),
		picklist("QuantityUnitOfMeasure", "Each", "Box", "Hour", "Seat").g(gSkew("Each", "Seat", "Hour", "Box")),
		newField("StockKeepingUnit", "string").length(180).g(func(c *gctx) Value { return vStr("SKU" + strconv.FormatInt(770000+c.i*7, 10)) }),
		newField("ExternalId", "string").ext().g(gNull(0.5, func(c *gctx) Value { return vStr("ERP-" + strconv.FormatInt(c.i, 10)) })),
	)
	audit(prod)

	pb := add(newObject("Pricebook2", "01s"))
	pb.fixed = 2
	head(pb)
	pb.add(
		newField("Name", "string").nameField().g(func(c *gctx) Value {
			return vStr([]string{"Standard Price Book", "Partner Price Book"}[c.i])
		}),
		newField("IsActive", "boolean").req().def(false).g(gConst(vBool(true))),
		newField("IsStandard", "boolean").ro().req().g(func(c *gctx) Value { return vBool(c.i == 0) }),
		newField("Description", "textarea").length(255),
	)
	audit(pb)

	pbe := add(newObject("PricebookEntry", "01u"))
	pbe.weight, pbe.minN = 0.002, 10 // same count as Product2 (one standard price each)
	pbe.Undeletable = false
	head(pbe)
	pbe.add(
		newField("Name", "string").ro().g(func(c *gctx) Value { return c.o.genField("Product2", c.i, "Name") }),
		ref("Pricebook2Id", "Pricebook2", "Pricebook2").req().createOnly().g(func(c *gctx) Value { return c.refTo("Pricebook2", 0) }),
		ref("Product2Id", "Product2", "Product2").req().createOnly().g(func(c *gctx) Value { return c.refTo("Product2", c.i) }),
		newField("UnitPrice", "currency").req().g(gMoney(5, 50000, true)),
		newField("IsActive", "boolean").req().def(false).g(gBool(0.95)),
		newField("UseStandardPrice", "boolean").req().def(false).g(gConst(vBool(false))),
		newField("ProductCode", "string").ro().g(func(c *gctx) Value { return c.o.genField("Product2", c.i, "ProductCode") }),
	)
	audit(pbe)

	opp := add(newObject("Opportunity", "006"))
	opp.weight, opp.minN = 0.07, 3
	opp.FeedEnabled = true
	head(opp)
	stages := []string{"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}
	stageProb := map[string]float64{"Prospecting": 10, "Qualification": 10, "Needs Analysis": 20, "Value Proposition": 50, "Id. Decision Makers": 60, "Perception Analysis": 70, "Proposal/Price Quote": 75, "Negotiation/Review": 90, "Closed Won": 100, "Closed Lost": 0}
	opp.add(
		ref("AccountId", "Account", "Account").g(func(c *gctx) Value { return c.blockRef("Account") }),
		recordTypeRef(2, 2),
		newField("Name", "string").length(120).nameField().g(func(c *gctx) Value {
			return vStr(companyName(c.rndFix(kCompany)) + " - " + c.pick(1, []string{"New Business", "Renewal", "Upsell", "Expansion", "Pilot"}))
		}),
		newField("Description", "textarea").length(32000).g(gNull(0.6, gWords(6, 30))),
		picklist("StageName", stages...).req().g(func(c *gctx) Value {
			if c.createdMs() < c.o.baseMs-180*dayMs {
				return vStr(stages[8+c.intn(1, 2)]) // old opportunities are closed
			}
			return vStr(stages[c.intn(1, 8)])
		}),
		newField("Amount", "currency").g(gNull(0.05, gMoney(500, 2e6, true))),
		newField("Probability", "percent").prec(3, 0).g(func(c *gctx) Value {
			return vFloat(stageProb[c.o.genField("Opportunity", c.i, "StageName").S])
		}),
		newField("ExpectedRevenue", "currency").formula("Amount * Probability / 100", func(r *row) Value {
			a, p := r.get("Amount"), r.get("Probability")
			if a.IsNull() || p.IsNull() {
				return null
			}
			return vFloat(math.Round(a.F*p.F) / 100)
		}),
		newField("CloseDate", "date").req().g(gDate(10, 200)),
		picklist("Type", "Existing Customer - Upgrade", "Existing Customer - Replacement", "Existing Customer - Downgrade", "New Customer").g(gNull(0.2, gPick("Existing Customer - Upgrade", "Existing Customer - Replacement", "New Customer"))),
		newField("NextStep", "string").g(gNull(0.6, gPick("Send proposal", "Schedule demo", "Negotiate terms", "Legal review", "Kickoff call"))),
		picklist("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other").g(gNull(0.4, gPick("Web", "Phone Inquiry", "Partner Referral", "Other"))),
		newField("IsClosed", "boolean").ro().formula("ISPICKVAL(StageName, 'Closed Won') || ISPICKVAL(StageName, 'Closed Lost')", func(r *row) Value {
			s := r.get("StageName").S
			return vBool(s == "Closed Won" || s == "Closed Lost")
		}),
		newField("IsWon", "boolean").ro().formula("ISPICKVAL(StageName, 'Closed Won')", func(r *row) Value {
			return vBool(r.get("StageName").S == "Closed Won")
		}),
		picklist("ForecastCategoryName", "Omitted", "Pipeline", "Best Case", "Commit", "Closed").g(gPick("Pipeline", "Best Case", "Commit", "Closed", "Omitted")),
		ref("CampaignId", "Campaign", "Campaign").g(gNull(0.8, func(c *gctx) Value { return c.randRef(1, "Campaign") })),
		ref("Pricebook2Id", "Pricebook2", "Pricebook2").g(func(c *gctx) Value { return c.refTo("Pricebook2", 0) }),
		newField("Discount_Percent__c", "percent").prec(5, 2).g(gNull(0.7, func(c *gctx) Value { return vFloat(float64(c.intn(1, 3000)) / 100) })),
		picklist("Region__c", "AMER", "EMEA", "APAC", "LATAM").g(gSkew("AMER", "EMEA", "APAC", "LATAM")),
	)
	audit(opp, "User")
	for _, f := range opp.Fields {
		if f.Name == "IsClosed" || f.Name == "IsWon" {
			f.Calculated, f.Formula = false, "" // system-derived, not formula fields
		}
	}

	oli := add(newObject("OpportunityLineItem", "00k"))
	oli.weight, oli.minN = 0.12, 3
	oli.Undeletable = false
	head(oli)
	oli.add(
		masterDetail("OpportunityId", "Opportunity", "Opportunity").createOnly().g(func(c *gctx) Value { return c.blockRef("Opportunity") }),
		ref("PricebookEntryId", "PricebookEntry", "PricebookEntry").createOnly().g(func(c *gctx) Value { return c.randRef(1, "PricebookEntry") }),
		ref("Product2Id", "Product2", "Product2").createOnly().g(func(c *gctx) Value {
			pe := c.o.genField("OpportunityLineItem", c.i, "PricebookEntryId")
			if _, n, ok := parseID(pe.S); ok {
				return c.refTo("Product2", n-idCounter)
			}
			return null
		}),
		newField("Name", "string").length(376).ro().g(func(c *gctx) Value {
			pe := c.o.genField("OpportunityLineItem", c.i, "PricebookEntryId")
			if _, n, ok := parseID(pe.S); ok {
				return c.o.genField("Product2", n-idCounter, "Name")
			}
			return null
		}),
		newField("Quantity", "double").req().prec(12, 2).g(func(c *gctx) Value { return vFloat(float64(1 + c.intn(1, 50))) }),
		newField("UnitPrice", "currency").g(gMoney(5, 50000, true)),
		newField("TotalPrice", "currency").formula("Quantity * UnitPrice", func(r *row) Value {
			q, p := r.get("Quantity"), r.get("UnitPrice")
			if q.IsNull() || p.IsNull() {
				return null
			}
			return vFloat(math.Round(q.F*p.F*100) / 100)
		}),
		newField("Discount", "percent").g(gNull(0.8, gInt(1, 30))),
		newField("ServiceDate", "date").g(gNull(0.5, gDate(10, 120))),
		newField("Description", "string").g(gNull(0.7, gWords(3, 10))),
		newField("SortOrder", "int").g(gNull(0.5, gInt(1, 10))),
	)
	audit(oli)

	// ---- service ----
	cs := add(newObject("Case", "500"))
	cs.weight, cs.minN = 0.07, 2
	cs.FeedEnabled = true
	head(cs)
	caseStatus := []string{"New", "Working", "Escalated", "Closed"}
	cs.add(
		ref("MasterRecordId", "MasterRecord", "Case").ro(),
		newField("CaseNumber", "string").length(30).ro().defaulted().g(func(c *gctx) Value { return vStr(padNum(1000+c.i, 8)) }),
		recordTypeRef(4, 2),
		ref("ContactId", "Contact", "Contact").g(gNull(0.1, func(c *gctx) Value {
			nA, nC := c.count("Account"), c.count("Contact")
			if nA == 0 || nC == 0 {
				return null
			}
			a := c.blockIdx(nA)
			return c.refTo("Contact", (a*nC+nA-1)/nA)
		})),
		ref("AccountId", "Account", "Account").g(func(c *gctx) Value { return c.blockRef("Account") }),
		ref("ParentId", "Parent", "Case").g(func(c *gctx) Value {
			if c.i < 5 || c.frac(1) > 0.05 {
				return null
			}
			return c.refTo("Case", c.i-1-c.intn(2, 5))
		}),
		newField("SuppliedName", "string").length(80).g(gNull(0.7, func(c *gctx) Value { return vStr(fullName(c)) })),
		newField("SuppliedEmail", "email").length(80).g(gNull(0.7, gEmail)),
		newField("SuppliedPhone", "string").length(40).g(gNull(0.8, gPhone)),
		picklist("Type", "Mechanical", "Electrical", "Electronic", "Structural", "Other").g(gNull(0.3, gPick("Mechanical", "Electrical", "Electronic", "Structural", "Other"))),
		picklist("Status", caseStatus...).req().def("New").g(func(c *gctx) Value {
			if c.createdMs() < c.o.baseMs-60*dayMs {
				return vStr("Closed")
			}
			return vStr(c.pick(1, caseStatus))
		}),
		picklist("Reason", "Installation", "Equipment Complexity", "Performance", "Breakdown", "Equipment Design", "Feedback", "Other").g(gNull(0.3, gPick("Installation", "Performance", "Breakdown", "Feedback", "Other"))),
		picklist("Origin", "Phone", "Email", "Web").g(gSkew("Email", "Web", "Phone")),
		newField("Subject", "string").g(gWords(3, 9)),
		picklist("Priority", "High", "Medium", "Low").g(gSkew("Medium", "Low", "High")),
		newField("Description", "textarea").length(32000).g(gNull(0.2, gWords(10, 60))),
		newField("IsClosed", "boolean").ro().g(func(c *gctx) Value {
			return vBool(c.o.genField("Case", c.i, "Status").S == "Closed")
		}),
		newField("ClosedDate", "datetime").ro().g(func(c *gctx) Value {
			if c.o.genField("Case", c.i, "Status").S != "Closed" {
				return null
			}
			return Value{K: KDateTime, I: c.modifiedMs()}
		}),
		newField("IsEscalated", "boolean").req().def(false).g(gBool(0.05)),
		newField("Resolution_Notes__c", "textarea").length(131072).g(gNull(0.8, gWords(20, 120))),
	)
	audit(cs, "Group", "User")

	// ---- activities ----
	whoTo := []string{"Contact", "Lead"}
	whatTo := []string{"Account", "Opportunity", "Case", "Campaign", "Invoice__c", "Project__c"}
	task := add(newObject("Task", "00T"))
	task.weight, task.minN = 0.14, 2
	head(task)
	task.add(
		polyRef("WhoId", "Who", whoTo, []float64{0.7, 0.3}, 0.2),
		polyRef("WhatId", "What", whatTo, []float64{0.5, 0.3, 0.2}, 0.15),
		picklist("Subject", "Call", "Send Letter", "Send Quote", "Other", "Email").length(255).g(gSkew("Call", "Email", "Send Quote", "Send Letter", "Other")),
		newField("ActivityDate", "date").g(gNull(0.1, gDate(-5, 20))),
		picklist("Status", taskStatuses...).req().def("Not Started").g(func(c *gctx) Value {
			if c.createdMs() < c.o.baseMs-30*dayMs {
				return vStr("Completed")
			}
			return vStr(c.pick(1, taskStatuses))
		}),
		picklist("Priority", "High", "Normal", "Low").req().def("Normal").g(gSkew("Normal", "Low", "High")),
		newField("IsClosed", "boolean").ro().g(func(c *gctx) Value {
			return vBool(c.o.genField("Task", c.i, "Status").S == "Completed")
		}),
		newField("Description", "textarea").length(32000).g(gNull(0.4, gWords(5, 40))),
		picklist("Type", "Call", "Email", "Meeting", "Other").g(gNull(0.3, gPick("Call", "Email", "Meeting", "Other"))),
		picklist("TaskSubtype", "Task", "Email", "Call").createOnly().g(gSkew("Task", "Email", "Call")),
		newField("CallDurationInSeconds", "int").g(gNull(0.8, gInt(10, 3600))),
		newField("IsArchived", "boolean").ro().g(gConst(vBool(false))),
	)
	audit(task, "Group", "User")

	ev := add(newObject("Event", "00U"))
	ev.weight, ev.minN = 0.05, 2
	head(ev)
	ev.add(
		polyRef("WhoId", "Who", whoTo, []float64{0.8, 0.2}, 0.2),
		polyRef("WhatId", "What", whatTo, []float64{0.6, 0.4}, 0.2),
		picklist("Subject", "Call", "Email", "Meeting", "Send Letter/Quote", "Other").g(gSkew("Meeting", "Call", "Other", "Email")),
		newField("Location", "string").g(gNull(0.5, gPick("Zoom", "Teams", "Customer site", "HQ Room 4", "Phone"))),
		newField("IsAllDayEvent", "boolean").req().def(false).g(gBool(0.05)),
		newField("ActivityDateTime", "datetime").g(func(c *gctx) Value {
			t := c.createdMs() + c.intn(1, 20)*dayMs
			return Value{K: KDateTime, I: t - t%(30*60000)}
		}),
		newField("ActivityDate", "date").g(func(c *gctx) Value {
			return Value{K: KDate, I: floorDiv(c.createdMs()+c.intn(1, 20)*dayMs, dayMs)}
		}),
		newField("DurationInMinutes", "int").g(gPick("30", "60", "45", "90")).label("Duration"),
		newField("StartDateTime", "datetime").ro().formula("ActivityDateTime", func(r *row) Value { return r.get("ActivityDateTime") }),
		newField("EndDateTime", "datetime").ro().formula("ActivityDateTime + DurationInMinutes", func(r *row) Value {
			a, d := r.get("ActivityDateTime"), r.get("DurationInMinutes")
			if a.IsNull() {
				return null
			}
			return Value{K: KDateTime, I: a.I + d.I*60000}
		}),
		newField("Description", "textarea").length(32000).g(gNull(0.5, gWords(5, 30))),
		picklist("ShowAs", "Busy", "OutOfOffice", "Free").g(gSkew("Busy", "Free", "OutOfOffice")),
		picklist("Type", "Call", "Email", "Meeting", "Other").g(gNull(0.3, gPick("Call", "Meeting", "Other"))),
	)
	for _, f := range ev.Fields {
		if f.Name == "StartDateTime" || f.Name == "EndDateTime" {
			f.Calculated, f.Formula = false, ""
		}
	}
	ev.Field("DurationInMinutes").gen = func(c *gctx) Value { return vInt([]int64{30, 60, 45, 90}[c.intn(1, 4)]) }
	ev.Field("DurationInMinutes").Type = "int"
	audit(ev, "Group", "User")

	cm := add(newObject("CampaignMember", "00v"))
	cm.weight, cm.minN = 0.04, 2
	cm.Undeletable = false
	head(cm)
	cm.add(
		ref("CampaignId", "Campaign", "Campaign").req().createOnly().g(func(c *gctx) Value { return c.randRef(1, "Campaign") }),
		ref("LeadId", "Lead", "Lead").createOnly().g(func(c *gctx) Value {
			if c.rndFix(0xc0)%10 < 6 {
				return null
			}
			return c.randRef(2, "Lead")
		}),
		ref("ContactId", "Contact", "Contact").createOnly().g(func(c *gctx) Value {
			if c.rndFix(0xc0)%10 >= 6 {
				return null
			}
			return c.randRef(2, "Contact")
		}),
		picklist("Status", "Planned", "Received", "Responded", "Sent").g(gSkew("Sent", "Received", "Responded", "Planned")),
		newField("HasResponded", "boolean").ro().g(func(c *gctx) Value {
			return vBool(c.o.genField("CampaignMember", c.i, "Status").S == "Responded")
		}),
		newField("FirstRespondedDate", "date").ro().g(func(c *gctx) Value {
			if c.o.genField("CampaignMember", c.i, "Status").S != "Responded" {
				return null
			}
			return Value{K: KDate, I: floorDiv(c.createdMs(), dayMs) + c.intn(1, 10)}
		}),
	)
	audit(cm)

	// ---- files ----
	cdoc := add(newObject("ContentDocument", "069"))
	cdoc.weight, cdoc.minN = 0.015, 2
	cdoc.Createable = false
	head(cdoc)
	cdoc.add(
		newField("Title", "string").updOnly().g(func(c *gctx) Value { return vStr(c.o.docTitle(c.i)) }),
		newField("FileType", "string").length(20).ro().g(func(c *gctx) Value { return vStr(fileExts[c.o.docExt(c.i)].ftype) }),
		newField("FileExtension", "string").length(40).ro().g(func(c *gctx) Value { return vStr(fileExts[c.o.docExt(c.i)].ext) }),
		newField("ContentSize", "int").ro().g(func(c *gctx) Value { return vInt(c.o.pool.size(c.o.docBody(c.i))) }),
		ref("LatestPublishedVersionId", "LatestPublishedVersion", "ContentVersion").ro().g(func(c *gctx) Value { return c.refTo("ContentVersion", c.i) }),
		picklist("PublishStatus", "U", "P", "R").ro().g(gConst(vStr("P"))),
		newField("IsArchived", "boolean").ro().g(gConst(vBool(false))),
		newField("ArchivedDate", "date").ro(),
		newField("Description", "textarea").length(1000).updOnly().g(gNull(0.8, gWords(3, 12))),
		picklist("SharingOption", "A", "R").updOnly().g(gConst(vStr("A"))),
		newField("ContentModifiedDate", "datetime").ro().g(func(c *gctx) Value { return Value{K: KDateTime, I: c.createdMs()} }),
	)
	audit(cdoc, "User")

	cv := add(newObject("ContentVersion", "068"))
	cv.weight, cv.minN = 0.015, 2 // same count as ContentDocument: one version each
	cv.Deletable, cv.Undeletable = false, false
	head(cv)
	cv.add(
		ref("ContentDocumentId", "ContentDocument", "ContentDocument").createOnly().defaulted().g(func(c *gctx) Value { return c.refTo("ContentDocument", c.i) }),
		newField("Title", "string").g(func(c *gctx) Value { return vStr(c.o.docTitle(c.i)) }),
		newField("PathOnClient", "string").length(500).req().createOnly().g(func(c *gctx) Value {
			return vStr(c.o.docTitle(c.i) + "." + fileExts[c.o.docExt(c.i)].ext)
		}),
		newField("FileExtension", "string").length(40).ro().g(func(c *gctx) Value { return vStr(fileExts[c.o.docExt(c.i)].ext) }),
		newField("FileType", "string").length(20).ro().g(func(c *gctx) Value { return vStr(fileExts[c.o.docExt(c.i)].ftype) }),
		newField("ContentSize", "int").ro().g(func(c *gctx) Value { return vInt(c.o.pool.size(c.o.docBody(c.i))) }),
		newField("Checksum", "string").length(50).ro().g(func(c *gctx) Value { return vStr(c.o.pool.checksum(c.o.docBody(c.i))) }),
		newField("VersionData", "base64").length(0).createOnly().req().g(func(c *gctx) Value { return vStr(blobRef(c.o.docBody(c.i))) }),
		newField("VersionNumber", "string").length(20).ro().g(gConst(vStr("1"))),
		newField("IsLatest", "boolean").ro().g(gConst(vBool(true))),
		picklist("ContentLocation", "S", "E", "L").createOnly().def("S").g(gConst(vStr("S"))),
		ref("FirstPublishLocationId", "FirstPublishLocation", "Account", "Opportunity", "Case", "User").createOnly().g(gConst(null)),
		newField("ReasonForChange", "string").length(1000).g(gConst(null)),
		newField("Description", "textarea").length(1000).g(gNull(0.8, gWords(3, 12))),
		picklist("SharingOption", "A", "R").g(gConst(vStr("A"))),
		picklist("SharingPrivacy", "N", "P").g(gConst(vStr("N"))),
		newField("ContentModifiedDate", "datetime").g(func(c *gctx) Value { return Value{K: KDateTime, I: c.createdMs()} }),
	)
	audit(cv, "User")

	cdl := add(newObject("ContentDocumentLink", "06A"))
	cdl.weight, cdl.minN = 0.025, 2
	cdl.Updateable, cdl.Undeletable, cdl.Replicateable = false, false, false
	cdl.add(
		newField("Id", "id").label("ContentDocument Link ID").ro().defaulted().idLookup(),
		ref("LinkedEntityId", "LinkedEntity", "Account", "Opportunity", "Case", "User").req().createOnly().g(func(c *gctx) Value {
			d := c.o.cdlDoc(c)
			if c.i >= c.count("ContentDocument") {
				return c.randRef(2, "User")
			}
			switch mix(c.o.seed^uint64(d)*0x77) % 3 {
			case 0:
				return c.randRef(3, "Account")
			case 1:
				return c.randRef(3, "Opportunity")
			}
			return c.randRef(3, "Case")
		}),
		ref("ContentDocumentId", "ContentDocument", "ContentDocument").req().createOnly().g(func(c *gctx) Value {
			return c.refTo("ContentDocument", c.o.cdlDoc(c))
		}),
		newField("IsDeleted", "boolean").label("Deleted").ro().defaulted().req(),
		newField("SystemModstamp", "datetime").ro().defaulted().req().g(func(c *gctx) Value {
			return Value{K: KDateTime, I: c.createdMs()}
		}),
		picklist("ShareType", "V", "C", "I").req().g(func(c *gctx) Value {
			if c.i < c.count("ContentDocument") {
				return vStr("V")
			}
			return vStr("I")
		}),
		picklist("Visibility", "AllUsers", "InternalUsers", "SharedUsers").g(gSkew("AllUsers", "InternalUsers", "SharedUsers")),
	)
	idIsDeleted(cdl)

	att := add(newObject("Attachment", "00P"))
	att.weight, att.minN = 0.02, 2
	head(att)
	att.add(
		ref("ParentId", "Parent", "Account", "Opportunity", "Case", "Contact", "Invoice__c").req().createOnly().g(func(c *gctx) Value {
			switch c.rnd(1) % 5 {
			case 0, 1:
				return c.randRef(2, "Account")
			case 2:
				return c.randRef(2, "Opportunity")
			case 3:
				return c.randRef(2, "Case")
			}
			return c.randRef(2, "Invoice__c")
		}),
		newField("Name", "string").req().g(func(c *gctx) Value {
			k := c.o.pool.pick(c.rndFix(0xb0d7))
			return vStr(c.o.docTitleOf(uint64(k)) + "." + fileExts[k%len(fileExts)].ext)
		}),
		newField("IsPrivate", "boolean").req().def(false).g(gBool(0.1)),
		newField("ContentType", "string").length(120).g(func(c *gctx) Value {
			return vStr(fileExts[c.o.pool.pick(c.rndFix(0xb0d7))%len(fileExts)].mime)
		}),
		newField("BodyLength", "int").ro().g(func(c *gctx) Value { return vInt(c.o.pool.size(c.o.pool.pick(c.rndFix(0xb0d7)))) }),
		newField("Body", "base64").req().g(func(c *gctx) Value { return vStr(blobRef(c.o.pool.pick(c.rndFix(0xb0d7)))) }),
		newField("Description", "textarea").length(500).g(gNull(0.8, gWords(3, 12))),
	)
	audit(att, "User")

	doc := add(newObject("Document", "015"))
	doc.weight, doc.minN = 0.005, 2
	head(doc)
	doc.add(
		ref("FolderId", "Folder", "Folder", "User").req().g(func(c *gctx) Value { return c.randRef(1, "User") }),
		newField("Name", "string").nameField().g(func(c *gctx) Value {
			return vStr(c.o.docTitleOf(uint64(c.o.pool.pick(c.rndFix(0xd0c)))))
		}),
		newField("DeveloperName", "string").length(80).req().g(func(c *gctx) Value {
			return vStr("Doc_" + strconv.FormatInt(c.i, 10))
		}),
		newField("ContentType", "string").length(120).g(func(c *gctx) Value {
			return vStr(fileExts[c.o.pool.pick(c.rndFix(0xd0c))%len(fileExts)].mime)
		}),
		newField("Type", "string").length(40).g(func(c *gctx) Value {
			return vStr(fileExts[c.o.pool.pick(c.rndFix(0xd0c))%len(fileExts)].ext)
		}),
		newField("IsPublic", "boolean").req().def(false).g(gBool(0.3)),
		newField("BodyLength", "int").ro().g(func(c *gctx) Value { return vInt(c.o.pool.size(c.o.pool.pick(c.rndFix(0xd0c)))) }),
		newField("Body", "base64").g(func(c *gctx) Value { return vStr(blobRef(c.o.pool.pick(c.rndFix(0xd0c)))) }),
		newField("Url", "url").length(255),
		newField("Description", "textarea").length(255).g(gNull(0.7, gWords(3, 10))),
		newField("Keywords", "string").g(gNull(0.7, gPick("brochure", "logo", "template", "pricing", "contract"))),
		newField("IsInternalUseOnly", "boolean").req().def(false).g(gBool(0.2)),
		ref("AuthorId", "Author", "User").g(func(c *gctx) Value { return c.randRef(2, "User") }),
	)
	audit(doc)

	note := add(newObject("Note", "002"))
	note.weight, note.minN = 0.02, 2
	head(note)
	note.add(
		ref("ParentId", "Parent", "Account", "Contact", "Opportunity", "Case", "Invoice__c").req().createOnly().g(func(c *gctx) Value {
			if c.rnd(1)%3 == 0 {
				return c.randRef(2, "Contact")
			}
			return c.randRef(2, "Account")
		}),
		newField("Title", "string").length(80).req().g(gWords(2, 6)),
		newField("IsPrivate", "boolean").req().def(false).g(gBool(0.1)),
		newField("Body", "textarea").length(32000).g(gNull(0.1, gWords(10, 80))),
	)
	audit(note, "User")

	// ---- custom objects ----
	inv := add(newObject("Invoice__c", "a00"))
	inv.weight, inv.minN = 0.04, 2
	head(inv)
	inv.add(
		newField("Name", "string").length(80).ro().defaulted().nameField().g(func(c *gctx) Value { return vStr("INV-" + padNum(c.i+1, 6)) }),
		ref("Account__c", "Account__r", "Account").g(func(c *gctx) Value { return c.blockRef("Account") }),
		newField("Amount__c", "currency").prec(16, 2).g(gMoney(50, 250000, true)),
		picklist("Status__c", "Draft", "Sent", "Paid", "Overdue", "Void").restricted().def("Draft").g(gSkew("Paid", "Sent", "Draft", "Overdue", "Void")),
		newField("Invoice_Date__c", "date").g(gDate(0, 3)),
		newField("Due_Date__c", "date").g(gDate(30, 33)),
		newField("Paid__c", "boolean").req().def(false).g(func(c *gctx) Value {
			return vBool(c.o.genField("Invoice__c", c.i, "Status__c").S == "Paid")
		}),
		newField("Total_With_Tax__c", "currency").formula("Amount__c * 1.2", func(r *row) Value {
			a := r.get("Amount__c")
			if a.IsNull() {
				return null
			}
			return vFloat(math.Round(a.F*120) / 100)
		}),
		newField("External_Id__c", "string").length(40).ext().g(func(c *gctx) Value { return vStr("ERP-INV-" + strconv.FormatInt(900000+c.i, 10)) }),
		newField("Notes__c", "textarea").length(32768).g(gNull(0.7, gWords(5, 40))),
		newField("Scan__c", "url").g(gNull(0.9, gConst(vStr("https://files.example.com/scan.pdf")))),
	)
	inv.Field("External_Id__c").Unique = true
	audit(inv, "Group", "User")

	line := add(newObject("Invoice_Line__c", "a01"))
	line.weight, line.minN = 0.06, 2
	head(line)
	line.add(
		newField("Name", "string").length(80).ro().defaulted().nameField().g(func(c *gctx) Value { return vStr("IL-" + padNum(c.i+1, 7)) }),
		masterDetail("Invoice__c", "Invoice__r", "Invoice__c").g(func(c *gctx) Value { return c.blockRef("Invoice__c") }),
		ref("Product__c", "Product__r", "Product2").g(func(c *gctx) Value { return c.randRef(1, "Product2") }),
		newField("Quantity__c", "double").prec(10, 0).g(func(c *gctx) Value { return vFloat(float64(1 + c.intn(1, 20))) }),
		newField("Unit_Price__c", "currency").prec(16, 2).g(gMoney(1, 5000, true)),
		newField("Line_Total__c", "currency").formula("Quantity__c * Unit_Price__c", func(r *row) Value {
			q, p := r.get("Quantity__c"), r.get("Unit_Price__c")
			if q.IsNull() || p.IsNull() {
				return null
			}
			return vFloat(math.Round(q.F*p.F*100) / 100)
		}),
	)
	audit(line) // detail records have no owner

	proj := add(newObject("Project__c", "a02"))
	proj.weight, proj.minN = 0.02, 2
	head(proj)
	proj.add(
		newField("Name", "string").length(80).nameField().g(func(c *gctx) Value {
			return vStr(c.pick(1, companyHeads) + " " + c.pick(2, []string{"Rollout", "Migration", "Upgrade", "Integration", "Pilot", "Audit"}))
		}),
		ref("Parent_Project__c", "Parent_Project__r", "Project__c").g(func(c *gctx) Value {
			if c.i == 0 || c.frac(1) < 0.3 {
				return null
			}
			return c.refTo("Project__c", (c.i-1)/3) // a tree: three children per parent
		}),
		ref("Account__c", "Account__r", "Account").g(gNull(0.1, func(c *gctx) Value { return c.randRef(2, "Account") })),
	)
	geolocation(proj, "Site__c", func(c *gctx, lat bool) Value {
		r := c.rndFix(0x5173)
		if r%4 == 0 {
			return null
		}
		ct := &cities[(r>>8)%uint64(len(cities))]
		if lat {
			return vFloat(math.Round(ct.lat*1e5) / 1e5)
		}
		return vFloat(math.Round(ct.lon*1e5) / 1e5)
	})
	proj.add(
		newField("Start_Date__c", "date").g(gDate(0, 60)),
		newField("Budget__c", "currency").prec(18, 2).g(gNull(0.2, gMoney(5000, 5e6, false))),
		picklist("Status__c", "Planned", "Active", "On Hold", "Done").def("Planned").g(gSkew("Done", "Active", "Planned", "On Hold")),
		newField("Progress__c", "percent").prec(5, 2).g(gInt(0, 100)),
		newField("Kickoff__c", "datetime").g(gNull(0.3, func(c *gctx) Value {
			t := c.createdMs() + c.intn(1, 40)*dayMs
			return Value{K: KDateTime, I: t - t%3600000}
		})),
		newField("Standup_Time__c", "time").g(gNull(0.5, func(c *gctx) Value { return Value{K: KTime, I: (8 + c.intn(1, 4)) * 3600000} })),
		newField("Days_Open__c", "double").prec(18, 0).formula("TODAY() - Start_Date__c", func(r *row) Value {
			s := r.get("Start_Date__c")
			if s.IsNull() {
				return null
			}
			return vFloat(float64(floorDiv(r.o.nowMs(), dayMs) - s.I))
		}),
		picklist("Tags__c", "Internal", "Billable", "Strategic", "Compliance").g(gNull(0.5, gPick("Internal", "Billable", "Billable;Strategic", "Compliance"))),
	)
	proj.Field("Tags__c").Type = "multipicklist"
	proj.Field("Progress__c").gen = func(c *gctx) Value { return vFloat(float64(c.intn(1, 101))) }
	audit(proj, "Group", "User")

	for _, f := range []*Field{inv.Field("Name"), line.Field("Name"), cs.Field("CaseNumber")} {
		f.AutoNumber = true
	}
	linkChildren(objs)
	return objs
}

func (f *Field) updOnly() *Field { f.Createable = false; return f }

type rtDef struct{ obj, name, dev string }

var recordTypes = []rtDef{
	{"Account", "Business Account", "Business_Account"},
	{"Account", "Partner Account", "Partner_Account"},
	{"Opportunity", "New Business", "New_Business"},
	{"Opportunity", "Renewal", "Renewal"},
	{"Case", "Support", "Support"},
	{"Case", "Billing", "Billing"},
}

// recordTypeRef is RecordTypeId choosing among n record types starting at
// recordTypes[first].
func recordTypeRef(first, n int64) *Field {
	return ref("RecordTypeId", "RecordType", "RecordType").g(func(c *gctx) Value {
		return c.refTo("RecordType", first+c.intn(1, n)*int64(c.frac(7)/0.75))
	})
}

// polyRef is a polymorphic lookup (WhoId, WhatId): targets chosen with the
// given weights (missing weights share the rest), null with probability pNull.
func polyRef(name, rel string, to []string, w []float64, pNull float64) *Field {
	f := ref(name, rel, to...)
	f.gen = func(c *gctx) Value {
		u := c.frac(1)
		if u < pNull {
			return null
		}
		u = (u - pNull) / (1 - pNull)
		for k, t := range to {
			if k < len(w) {
				if u < w[k] {
					return c.randRef(2, t)
				}
				u -= w[k]
				continue
			}
			return c.randRef(2, to[k+int(c.intn(3, int64(len(to)-k)))])
		}
		return c.randRef(2, to[0])
	}
	return f
}

// head adds Id and IsDeleted, present on every object.
func head(o *Object) {
	o.add(
		newField("Id", "id").label(o.Label+" ID").ro().defaulted().idLookup().req(),
		newField("IsDeleted", "boolean").label("Deleted").ro().defaulted().req(),
	)
	idIsDeleted(o)
}

func idIsDeleted(o *Object) {
	o.Field("Id").calc = func(r *row) Value { return vStr(r.id()) }
	o.Field("Id").Nillable = false
	o.Field("IsDeleted").calc = func(r *row) Value { return vBool(r.v != nil && r.v.deleted) }
}

// nameOf is the read-only Name of person objects: FirstName LastName.
func nameOf(o *Object) *Field {
	f := newField("Name", "string").length(121).ro().nameField()
	f.calc = func(r *row) Value {
		fn, ln := r.get("FirstName"), r.get("LastName")
		if fn.IsNull() || fn.S == "" {
			return ln
		}
		return vStr(fn.S + " " + ln.S)
	}
	return f
}

// audit adds OwnerId (when owner targets are given) and the audit fields.
func audit(o *Object, ownerTo ...string) {
	if len(ownerTo) > 0 {
		f := ref("OwnerId", "Owner", ownerTo...).req().defaulted().g(func(c *gctx) Value {
			return c.randRef(0x0e, "User")
		})
		o.add(f)
	}
	o.add(
		newField("CreatedDate", "datetime").ro().defaulted().req().g(func(c *gctx) Value { return Value{K: KDateTime, I: c.createdMs()} }),
		ref("CreatedById", "CreatedBy", "User").ro().defaulted().req().g(func(c *gctx) Value { return c.randRef(0xcb, "User") }),
		newField("LastModifiedDate", "datetime").ro().defaulted().req().g(func(c *gctx) Value { return Value{K: KDateTime, I: c.modifiedMs()} }),
		ref("LastModifiedById", "LastModifiedBy", "User").ro().defaulted().req().g(func(c *gctx) Value { return c.randRef(0x1b, "User") }),
		newField("SystemModstamp", "datetime").ro().defaulted().req().g(func(c *gctx) Value { return Value{K: KDateTime, I: c.modstampMs()} }),
	)
}

func padNum(n int64, w int) string { return string(appendPad(nil, n, w)) }

// blobRef encodes a body of the blob pool as a stored base64 field value: the
// row keeps a reference, never the bytes.
func blobRef(k int) string { return "\x00pool:" + strconv.Itoa(k) }
