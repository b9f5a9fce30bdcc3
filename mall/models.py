"""Imports every model so that metadata (create_all, Alembic autogenerate) sees all tables."""
from .accounts.models import User  # noqa: F401
from .catalog.models import Category, Item, ItemTierPrice  # noqa: F401
from .instore.models import ApiKey, Clawback, ItemPickupStore, Pickup, Purchase, Store, StoreStaff  # noqa: F401
from .inventory.models import StockLevel, StockMovement  # noqa: F401
from .points.models import LedgerEntry, LotMovement, PointLot, PointsAccount, Tier  # noqa: F401
from .catalog.models import PricePlan  # noqa: F401,E402
from .checkout.models import CartLine, Order, OrderEvent, OrderLine, Payment, WebhookEvent  # noqa: F401,E402
from .inventory.models import Reservation  # noqa: F401,E402
from .catalog.models import ItemChange, ItemSubstitute  # noqa: F401,E402
from .presale.models import Presale  # noqa: F401,E402
from .accounts.models import AuditEntry  # noqa: F401,E402
from .budgets.models import BudgetMonth, DiscretionaryGrant, ProgrammeBudget, StoreBudget  # noqa: F401,E402
from .hq.models import HqAlert, LedgerDaily, RollupState, RuleRoi  # noqa: F401,E402
from .risk.models import MemberSighting, OrderOrigin, RiskReview  # noqa: F401,E402
from .points.models import MemberTier, TierChange  # noqa: F401,E402
from .engagement.models import Checkin, EarningRule, MemberDevice, MemberProfile, MemberSegment, Referral  # noqa: F401,E402
from .notifications.models import Notification, NotificationOptOut  # noqa: F401,E402
from .games.models import DrawBalance, DrawCredit, Game, GamePlay, GamePrize  # noqa: F401,E402
from .wallet.models import CouponSpec, WalletItem  # noqa: F401,E402
from .redpackets.models import RedPacketCampaign, RedPacketClaim  # noqa: F401,E402
from .bookings.models import Booking, ServiceSlot  # noqa: F401,E402
from .rights.models import RightGrant, RightSpec  # noqa: F401,E402
from .appeals.models import Appeal  # noqa: F401,E402
