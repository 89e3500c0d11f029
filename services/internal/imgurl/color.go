package imgurl

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// namedColors are the CSS colour names accepted in bg and b. Names outside
// this list are refused rather than guessed.
var namedColors = map[string]Color{
	"black": {0, 0, 0, 255}, "white": {255, 255, 255, 255}, "red": {255, 0, 0, 255},
	"green": {0, 128, 0, 255}, "blue": {0, 0, 255, 255}, "yellow": {255, 255, 0, 255},
	"cyan": {0, 255, 255, 255}, "aqua": {0, 255, 255, 255}, "magenta": {255, 0, 255, 255},
	"fuchsia": {255, 0, 255, 255}, "gray": {128, 128, 128, 255}, "grey": {128, 128, 128, 255},
	"silver": {192, 192, 192, 255}, "maroon": {128, 0, 0, 255}, "olive": {128, 128, 0, 255},
	"lime": {0, 255, 0, 255}, "teal": {0, 128, 128, 255}, "navy": {0, 0, 128, 255},
	"purple": {128, 0, 128, 255}, "orange": {255, 165, 0, 255}, "pink": {255, 192, 203, 255},
	"brown": {165, 42, 42, 255}, "gold": {255, 215, 0, 255}, "beige": {245, 245, 220, 255},
	"ivory": {255, 255, 240, 255}, "khaki": {240, 230, 140, 255}, "lavender": {230, 230, 250, 255},
	"coral": {255, 127, 80, 255}, "salmon": {250, 128, 114, 255}, "indigo": {75, 0, 130, 255},
	"violet": {238, 130, 238, 255}, "turquoise": {64, 224, 208, 255}, "tan": {210, 180, 140, 255},
	"crimson": {220, 20, 60, 255}, "darkgray": {169, 169, 169, 255}, "lightgray": {211, 211, 211, 255},
	"whitesmoke": {245, 245, 245, 255}, "transparent": {0, 0, 0, 0},
}

func parseColor(key, v string) (Color, error) {
	if c, ok := namedColors[strings.ToLower(v)]; ok {
		return c, nil
	}
	if len(v) != 6 && len(v) != 8 {
		return Color{}, invalidValue(key, "want a colour as RRGGBB, RRGGBBAA or a name")
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return Color{}, invalidValue(key, "want a colour as RRGGBB, RRGGBBAA or a name")
	}
	c := Color{R: b[0], G: b[1], B: b[2], A: 255}
	if len(b) == 4 {
		c.A = b[3]
	}
	return c, nil
}

// fmtColor prints a colour canonically: upper-case hex, alpha only when not opaque.
func fmtColor(c Color) string {
	if c.A == 255 {
		return fmt.Sprintf("%02X%02X%02X", c.R, c.G, c.B)
	}
	return fmt.Sprintf("%02X%02X%02X%02X", c.R, c.G, c.B, c.A)
}
