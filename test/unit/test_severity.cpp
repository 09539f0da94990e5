#include <gtest/gtest.h>

#include "severity.hpp"

using ag::Severity;

TEST(Severity, ParsesEveryName) {
  EXPECT_EQ(ag::parse_severity("info"), Severity::Info);
  EXPECT_EQ(ag::parse_severity("low"), Severity::Low);
  EXPECT_EQ(ag::parse_severity("medium"), Severity::Medium);
  EXPECT_EQ(ag::parse_severity("high"), Severity::High);
  EXPECT_EQ(ag::parse_severity("critical"), Severity::Critical);
}

TEST(Severity, RejectsOtherSpellings) {
  EXPECT_EQ(ag::parse_severity(""), std::nullopt);
  EXPECT_EQ(ag::parse_severity("High"), std::nullopt);
  EXPECT_EQ(ag::parse_severity("CRITICAL"), std::nullopt);
  EXPECT_EQ(ag::parse_severity(" high"), std::nullopt);
  EXPECT_EQ(ag::parse_severity("warning"), std::nullopt);
  EXPECT_EQ(ag::parse_severity(std::string_view("info\0", 5)), std::nullopt);
}

TEST(Severity, NamesRoundTrip) {
  for (int i = 0; i <= 4; ++i) {
    const auto s = static_cast<Severity>(i);
    EXPECT_EQ(ag::parse_severity(ag::severity_name(s)), s);
  }
  EXPECT_STREQ(ag::severity_name(Severity::Critical), "critical");
  EXPECT_STREQ(ag::severity_name(Severity::Info), "info");
}

TEST(Severity, OrderedLowToHigh) {
  EXPECT_LT(Severity::Info, Severity::Low);
  EXPECT_LT(Severity::Low, Severity::Medium);
  EXPECT_LT(Severity::Medium, Severity::High);
  EXPECT_LT(Severity::High, Severity::Critical);
}
