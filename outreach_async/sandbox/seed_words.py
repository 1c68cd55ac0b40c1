"""Names and values the seed draws from: small, fixed tuples, so a seed is reproducible."""

from __future__ import annotations

FIRST = (
    "Sally",
    "Katie",
    "Omar",
    "Priya",
    "Liam",
    "Noah",
    "Emma",
    "Ava",
    "Mia",
    "Lucas",
    "Ethan",
    "Zoe",
    "Chloe",
    "Mateo",
    "Aria",
    "Leo",
    "Nora",
    "Ivy",
    "Hugo",
    "Maya",
    "Elena",
    "Kai",
    "Jonas",
    "Sofia",
    "Amir",
    "Lena",
    "Theo",
    "Yuki",
    "Rosa",
    "Felix",
)
LAST = (
    "Smith",
    "Jones",
    "Patel",
    "Garcia",
    "Kim",
    "Nguyen",
    "Brown",
    "Silva",
    "Rossi",
    "Müller",
    "Dubois",
    "Cohen",
    "Tanaka",
    "Ali",
    "Novak",
    "Larsen",
    "Okafor",
    "Singh",
    "Haddad",
    "Moreau",
    "Weber",
    "Costa",
    "Ivanova",
    "Schmidt",
    "Lopez",
    "Chen",
)
TITLES = (
    "CEO",
    "CTO",
    "CFO",
    "VP Sales",
    "Head of Marketing",
    "Account Executive",
    "Engineering Manager",
    "Sales Director",
    "Operations Lead",
    "Product Manager",
)
WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Wonka",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Aperture",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Massive",
    "Dynamic",
    "Pied",
    "Piper",
)
SUFFIXES = ("Inc", "Labs", "Group", "Systems", "Partners", "Co")
INDUSTRIES = ("Software", "Finance", "Healthcare", "Retail", "Manufacturing", "Education")
TAGS = ("vip", "inbound", "webinar", "conference", "partner", "churn-risk", "expansion")
STAGES = ("Cold", "Approaching", "Replied", "Interested", "Not Interested", "Unresponsive")
PERSONAS = ("Executive", "Decision Maker", "Champion", "Influencer", "End User")
STEP_TYPES = ("auto_email", "call", "manual_email", "task")
TASK_ACTIONS = ("action_item", "call", "email", "in_person")
EVENT_NAMES = (
    "prospect_created",
    "prospect_updated",
    "mailing_delivered",
    "mailing_opened",
    "call_completed",
    "task_completed",
    "sequence_state_finished",
)
STATE_WEIGHTS = (("active", 50), ("paused", 10), ("finished", 30), ("pending", 5), ("bounced", 5))
MAILING_STATES = ("delivered", "opened", "replied", "bounced", "scheduled", "drafted")

# -- the organisation around the prospects (seed_org) -----------------------------------------

OPPORTUNITY_STAGES = (  # (name, isClosed, probability %)
    ("Prospecting", False, 10),
    ("Qualification", False, 20),
    ("Discovery", False, 40),
    ("Proposal", False, 60),
    ("Negotiation", False, 80),
    ("Closed Won", True, 100),
    ("Closed Lost", True, 0),
)
PROFILES = (("Admin", True), ("Manager", False), ("Rep", False))
ROLES = ("VP Sales", "Sales Manager", "Account Executive", "Sales Development Rep")
DUTIES = (  # (symbolicName, dutyType): Outreach-suggested duties
    ("account_executive", "sales"),
    ("sales_development_representative", "sales"),
    ("account_manager", "sales"),
    ("sales_manager", "management"),
    ("customer_success_manager", "customer_success"),
    ("sales_operations", "operations"),
    ("marketing", "marketing"),
    ("recruiter", "recruiting"),
)
TEAM_NAMES = ("Enterprise", "Mid-Market", "SMB", "EMEA", "APAC", "Inbound", "Outbound", "Renewals")
CONTENT_CATEGORIES = ("Prospecting", "Follow Up", "Events", "Onboarding", "Renewals")
RULESETS = ("Default", "Strict")
TASK_PURPOSES = (("Research", "manual"), ("Follow Up", "call"), ("Send Proposal", "email"))
TASK_DISPOSITIONS = (
    ("Completed", "call"),
    ("Rescheduled", "call"),
    ("No Longer Relevant", "manual"),
)
PRODUCTS = ("Platform", "Analytics", "Support Plan", "Onboarding", "API Access", "Seats")
LEAD_SOURCES = ("Inbound", "Outbound", "Partner", "Event", "Referral")
FORECAST = ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")
TEMPLATE_SUBJECTS = (
    "Quick question",
    "Following up",
    "Ideas for {company}",
    "Worth a chat?",
    "Last try",
)
NOTE_TYPES = ("general", "meeting", "call")
AUDIT_EVENTS = (("prospect", "create"), ("prospect", "update"), ("sequence", "update"))
PHONE_TYPES = ("work", "mobile", "home")
