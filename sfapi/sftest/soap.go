package sftest

import "net/http"

type retrieveJob struct{}

func soapFault(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(500)
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>` + code + `</faultcode><faultstring>` + msg + `</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`))
}

func (o *Org) soapPartner(c *reqCtx)  { notFound(c.w) }
func (o *Org) soapMetadata(c *reqCtx) { notFound(c.w) }
