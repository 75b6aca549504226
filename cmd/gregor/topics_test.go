package main

import (
	"reflect"
	"testing"
)

func TestParseAssignment(t *testing.T) {
	got, err := parseAssignment("1:2, 2:3,3:1")
	if err != nil || !reflect.DeepEqual(got, map[int][]int{0: {1, 2}, 1: {2, 3}, 2: {3, 1}}) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := parseAssignment("1:x"); err == nil {
		t.Fatal("accepted a non-numeric broker id")
	}
}
