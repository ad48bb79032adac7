package sftest

import "strings"

// Word lists for realistic generated values. Generated strings are slices of
// these tables or short concatenations of them.

var firstNames = strings.Fields(`James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth
David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy
Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna
Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald
Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas
Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen
Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn
Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia
Henry Joyce Nathan Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Noah Joan
Ethan Evelyn Jeremy Judith Walter Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline
Austin Martha Sean Gloria Gerald Teresa Carl Ann Harold Sara Dylan Madison Arthur Frances Lawrence
Kathryn Jordan Janice Jesse Jean Bryan Abigail Billy Alice Bruce Judy Gabriel Sophia Joe Grace Logan
Denise Albert Amber Willie Doris Alan Marilyn Eugene Danielle Russell Beverly Vincent Isabella Élodie
Søren José Zoë Ming Yuki Priya Aarav Fatima Omar Chen Hiroshi Ingrid Lars Mateo Lucía Ngozi Kwame`)

var lastNames = strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White
Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans
Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez
Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks
Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long
Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes
Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin
Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford
Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen
Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder
Mason Dixon Muñoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren
Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne
Grant Dunn Kelley Spencer Hawkins Arnold Pierce Hansen Peters Santos Hart Bradley Knight Müller
O'Brien O'Connor Dubois Rossi Kowalski Nakamura Yamamoto Okafor Haddad Novak Lindqvist Andersen`)

var companyHeads = strings.Fields(`Acme Global United Pacific Atlantic Northern Southern Summit Pinnacle
Apex Vertex Horizon Silver Golden Blue Red Green Iron Stone River Lake Mountain Valley Harbor Bay
Bright Clear Swift Rapid Prime First Evergreen Redwood Oak Maple Cedar Pine Falcon Eagle Hawk Lion
Tiger Orion Nova Stellar Quantum Fusion Vector Matrix Nexus Zenith Crescent Beacon Keystone Liberty
Pioneer Frontier Heritage Legacy Monarch Royal Imperial Sterling Cobalt Titan Atlas Aurora Polar`)

var companyTails = strings.Fields(`Systems Solutions Technologies Industries Holdings Partners Group
Logistics Manufacturing Foods Energy Health Labs Dynamics Networks Media Capital Consulting Analytics
Robotics Pharma Motors Textiles Materials Software Services Works Supply Retail Design Engineering`)

var companySuffix = []string{"Inc.", "LLC", "Ltd.", "Corp.", "GmbH", "S.A.", "plc", "Co.", "AG", "B.V."}

var streetNames = strings.Fields(`Main Oak Pine Maple Cedar Elm Washington Lake Hill Park View Sunset
Railroad Church Willow Mill Spring Ridge River Meadow Forest Highland Market Broad Center Union
Franklin Jefferson Lincoln Madison Jackson Adams Chestnut Walnut Birch Poplar Dogwood Magnolia`)

var streetTypes = []string{"St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Way", "Ct", "Pl", "Pkwy"}

// cities: name, state, country, postal prefix, latitude, longitude.
type city struct {
	name, state, country, postal string
	lat, lon                     float64
}

var cities = []city{
	{"San Francisco", "CA", "United States", "941", 37.7749, -122.4194},
	{"New York", "NY", "United States", "100", 40.7128, -74.0060},
	{"Chicago", "IL", "United States", "606", 41.8781, -87.6298},
	{"Austin", "TX", "United States", "787", 30.2672, -97.7431},
	{"Seattle", "WA", "United States", "981", 47.6062, -122.3321},
	{"Boston", "MA", "United States", "021", 42.3601, -71.0589},
	{"Denver", "CO", "United States", "802", 39.7392, -104.9903},
	{"Atlanta", "GA", "United States", "303", 33.7490, -84.3880},
	{"Miami", "FL", "United States", "331", 25.7617, -80.1918},
	{"Phoenix", "AZ", "United States", "850", 33.4484, -112.0740},
	{"Portland", "OR", "United States", "972", 45.5152, -122.6784},
	{"Minneapolis", "MN", "United States", "554", 44.9778, -93.2650},
	{"Toronto", "ON", "Canada", "M5V", 43.6532, -79.3832},
	{"Vancouver", "BC", "Canada", "V6B", 49.2827, -123.1207},
	{"London", "", "United Kingdom", "EC1", 51.5074, -0.1278},
	{"Manchester", "", "United Kingdom", "M1 ", 53.4808, -2.2426},
	{"Paris", "", "France", "750", 48.8566, 2.3522},
	{"Lyon", "", "France", "690", 45.7640, 4.8357},
	{"Berlin", "", "Germany", "101", 52.5200, 13.4050},
	{"München", "", "Germany", "803", 48.1351, 11.5820},
	{"Madrid", "", "Spain", "280", 40.4168, -3.7038},
	{"Milano", "", "Italy", "201", 45.4642, 9.1900},
	{"Amsterdam", "", "Netherlands", "101", 52.3676, 4.9041},
	{"Stockholm", "", "Sweden", "111", 59.3293, 18.0686},
	{"Tokyo", "", "Japan", "100", 35.6762, 139.6503},
	{"Sydney", "NSW", "Australia", "200", -33.8688, 151.2093},
	{"São Paulo", "SP", "Brazil", "010", -23.5505, -46.6333},
	{"Mumbai", "MH", "India", "400", 19.0760, 72.8777},
	{"Singapore", "", "Singapore", "018", 1.3521, 103.8198},
	{"Lagos", "", "Nigeria", "100", 6.5244, 3.3792},
}

var industries = []string{"Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals",
	"Communications", "Construction", "Consulting", "Education", "Electronics", "Energy",
	"Engineering", "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government",
	"Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit",
	"Recreation", "Retail", "Shipping", "Technology", "Telecommunications", "Transportation",
	"Utilities", "Other"}

var loremWords = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod
tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation
ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit
esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui
officia deserunt mollit anim id est laborum customer renewal contract pricing onboarding follow
call meeting proposal budget quarter review invoice shipment delay support escalation feedback
priority account upgrade license integration migration training workshop demo approval discount`)

var titles = []string{"CEO", "CFO", "CTO", "VP Sales", "VP Marketing", "Director of IT",
	"Procurement Manager", "Account Manager", "Sales Representative", "Engineer", "Analyst",
	"Office Manager", "Head of Operations", "Purchasing Agent", "Consultant", "Buyer"}

var domains = []string{"example.com", "example.org", "mail.example.net", "corp.example", "test.example"}

var fileExts = []struct{ ext, ftype, mime string }{
	{"pdf", "PDF", "application/pdf"},
	{"docx", "WORD_X", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	{"xlsx", "EXCEL_X", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	{"png", "PNG", "image/png"},
	{"jpg", "JPG", "image/jpeg"},
	{"txt", "TEXT", "text/plain"},
	{"csv", "CSV", "text/csv"},
	{"pptx", "POWER_POINT_X", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
}

var productNames = strings.Fields(`Widget Gadget Sensor Module Controller Gateway Router Switch Panel
Pump Valve Motor Bearing Filter Cable Adapter Battery Charger Display Camera Printer Scanner Server
Storage License Subscription Support Warranty Installation Training`)

var productTiers = []string{"Lite", "Standard", "Pro", "Enterprise", "XL", "Mini", "Max", "Plus"}
