"""The ground floor: the clock, Beijing time and regions, which every room below the top may use."""
